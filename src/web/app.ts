// The HTTP API of `raptor serve` (docs/web.md): createApp(deps) builds it without listening, so
// tests drive it in-process with app.request(). One error handler maps raptor's error kinds to
// statuses; every /api/v1 call is authenticated, and its account is checked against the group
// database at each request.
import { Hono, type Context as HonoContext } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import type { Config } from '../core/config.ts';
import { badInput, notAllowed, notFound } from '../core/errors.ts';
import { domainName, parseVmId, type VmId } from '../core/naming.ts';
import { parseListen } from '../core/web-config.ts';
import type { AccountEntry, AccountLookup, CredentialStore } from '../service/web-auth.ts';
import { errorBody, Unauthorized } from './errors.ts';
import { Operations } from './operations.ts';
import type { ConsoleOpener } from './console.ts';
import { assetNames, PAGE_CSP, pageHtml, type PageAssets } from './page-assets.ts';
import { RateLimiter } from './rate-limit.ts';
import { bodyProblem, createVmBody, powerBody, proofBody } from './schemas.ts';
import { authorizeAdmin, isAdmin, type Actor, type PowerVerb, type WebService } from './service-bridge.ts';

export const SESSION_COOKIE = 'raptor_session';
/** Largest request body read: a create with a few SSH keys is a few KiB. */
export const MAX_BODY_BYTES = 64 * 1024;
const PROOF_PATH = '/api/v1/auth/proof';

export interface AppDeps {
  config: Config;
  service: WebService;
  credentials: CredentialStore;
  accounts: AccountLookup;
  /** the uid owning a proof file of the spool (spool.ts redeemProof in the server) */
  redeemProof: (file: string, nonce: string) => { uid: number };
  operations?: Operations;
  /** longest `?wait=1` wait */
  waitMs?: number;
  /** the console's WebSocket (console.ts), attached by the server */
  consoles?: ConsoleOpener;
  /** the page's script and style (page-assets.ts) */
  page?: PageAssets | undefined;
}

export interface Signed {
  actor: Actor;
  admin: boolean;
  /** how the request signed in: the cookie's session, or a bearer token */
  by: 'session' | 'token';
  secret: string;
}

type Env = { Variables: { signed: Signed } };

/** The origins and Host values this server answers to: its listen address (and localhost forms) and the public URL. */
export function allowedOrigins(config: Config): { hosts: Set<string>; origins: Set<string> } {
  const hosts = new Set<string>();
  const origins = new Set<string>();
  const listen = parseListen(config.web.listen);
  if (listen) {
    const loopback = listen.host === '127.0.0.1' || listen.host === '::1' || listen.host === 'localhost';
    const names = loopback ? ['127.0.0.1', '[::1]', 'localhost'] : [listen.host.includes(':') ? `[${listen.host}]` : listen.host];
    for (const n of names) {
      hosts.add(`${n}:${listen.port}`.toLowerCase());
      origins.add(`http://${n}:${listen.port}`.toLowerCase());
    }
  }
  // a client on the unix socket names no port
  if (config.web.socket) hosts.add('localhost');
  if (config.web.public_url) {
    const u = new URL(config.web.public_url);
    hosts.add(u.host.toLowerCase());
    origins.add(u.origin.toLowerCase());
  }
  return { hosts, origins };
}

/** The base of one-time sign-in links: the public URL, else the listen address. */
export function publicBase(config: Config): string {
  return (config.web.public_url ?? `http://${config.web.listen}`).replace(/\/$/, '');
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The account's standing now: the actor if it may still use the web API, else undefined. */
export function actorFor(config: Config, account: AccountEntry | undefined, cred: { user: string; uid: number }): Actor | undefined {
  if (!account || account.user !== cred.user) return undefined; // gone, or its uid now names someone else
  const actor: Actor = { user: account.user, uid: account.uid, gid: account.gid, groups: account.groups, via: 'http' };
  return isAdmin(actor, config) || account.groups.includes(config.access.user_group) ? actor : undefined;
}

/**
 * Who sent these headers, from their bearer token or session cookie; revokes every credential of
 * an account that left vm-users and the admin groups. Shared with the console's upgrade handler.
 */
export function authenticate(deps: Pick<AppDeps, 'config' | 'credentials' | 'accounts'>, headers: { authorization?: string | undefined; cookie?: string | undefined }): Signed {
  const auth = headers.authorization;
  let secret: string | undefined;
  let by: Signed['by'] = 'token';
  if (auth !== undefined) {
    const m = /^Bearer ([^\s]+)$/i.exec(auth.trim());
    if (!m) throw new Unauthorized('the Authorization header must be "Bearer TOKEN"');
    secret = m[1]!;
  } else {
    const cookie = /(?:^|;\s*)raptor_session=([^;]*)/.exec(headers.cookie ?? '')?.[1];
    if (cookie) {
      secret = cookie;
      by = 'session';
    }
  }
  if (secret === undefined) throw new Unauthorized();
  const cred = deps.credentials.find(secret, [by]);
  if (!cred) throw new Unauthorized(`the ${by === 'token' ? 'token' : 'session'} is not valid (expired, revoked or mistyped): sign in again`);
  const actor = actorFor(deps.config, deps.accounts.byUid(cred.uid), cred);
  if (!actor) {
    deps.credentials.revokeUid(cred.uid);
    throw new Unauthorized(`${cred.user} is no longer in ${deps.config.access.user_group} or an admin group: signed out`);
  }
  return { actor, admin: isAdmin(actor, deps.config), by, secret };
}

/** Refuse a Host this server is not (DNS rebinding), and a cross-site state change (CSRF). */
export function checkHostAndOrigin(allowed: ReturnType<typeof allowedOrigins>, req: { method: string; host: string | undefined; origin: string | undefined; cookieAuth: boolean }): void {
  if (!req.host || !allowed.hosts.has(req.host.toLowerCase())) throw notAllowed(`this server does not answer to Host ${JSON.stringify(req.host ?? '')}: set web.public_url to the address users open`);
  // any method: a foreign page's fetch carries its Origin; the SameSite cookie is a second wall
  if (req.origin !== undefined) {
    if (!allowed.origins.has(req.origin.toLowerCase())) throw notAllowed(`cross-site request refused (Origin ${JSON.stringify(req.origin)})`);
  } else if (req.cookieAuth && STATE_CHANGING.has(req.method)) {
    throw notAllowed('cross-site request refused: a change signed in by cookie must carry its Origin');
  }
}

const sourceOf = (c: HonoContext): string => {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'local';
};

async function readBody<S extends z.ZodTypeAny>(c: HonoContext, schema: S, emptyOk = false): Promise<z.infer<S>> {
  const len = Number(c.req.header('content-length') ?? '0');
  if (len > MAX_BODY_BYTES) throw badInput(`request body too large (at most ${MAX_BODY_BYTES} bytes)`);
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES) throw badInput(`request body too large (at most ${MAX_BODY_BYTES} bytes)`);
  if (text.trim() === '' && emptyOk) return schema.parse({}) as z.infer<S>;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw badInput('the request body is not JSON');
  }
  const r = schema.safeParse(doc);
  if (!r.success) throw badInput(`invalid request body: ${bodyProblem(r.error)}`);
  return r.data as z.infer<S>;
}

/** A VM the caller may ask about: another user's VM is 404 for a vm-user, as if it did not exist. */
function vmFor(signed: Signed, id: string): VmId {
  const vm = parseVmId(id);
  if (!signed.admin && vm.user !== signed.actor.user) throw notFound(`VM ${domainName(vm)} not found`);
  return vm;
}

const PLACEHOLDER = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>raptor</title></head>
<body><h1>raptor</h1><p>Sign in with <code>raptor web login</code> on the host. The API is at <a href="/api/v1/me">/api/v1</a>.</p></body></html>
`;

export function createApp(deps: AppDeps): Hono<Env> {
  const { config } = deps;
  const operations = deps.operations ?? new Operations();
  const allowed = allowedOrigins(config);
  const perSource = new RateLimiter(config.web.login_per_minute_per_source);
  const perUser = new RateLimiter(config.web.login_per_minute_per_user);
  const waitMs = deps.waitMs ?? 600_000;
  const secure = config.web.public_url?.startsWith('https:') ?? false;
  const app = new Hono<Env>();

  app.onError((err, c) => {
    const { status, body } = errorBody(err);
    // the journal gets what went wrong unexpectedly; refusals are the caller's business
    if (status === 500) process.stderr.write(`raptor serve: ${c.req.method} ${c.req.path}: ${body.error.message}\n`);
    return c.json(body, status);
  });
  app.notFound((c) => c.json({ error: { code: 'not-found', exitCode: 4, message: `no such path: ${c.req.method} ${c.req.path}` } }, 404));

  app.use('*', async (c, next) => {
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('Content-Security-Policy', PAGE_CSP);
    c.header('Cache-Control', 'no-store');
    checkHostAndOrigin(allowed, {
      method: c.req.method,
      host: c.req.header('host') ?? new URL(c.req.url).host,
      origin: c.req.header('origin'),
      cookieAuth: c.req.header('authorization') === undefined && getCookie(c, SESSION_COOKIE) !== undefined,
    });
    await next();
  });

  // a chunked body is cut off while it streams, not after it was buffered
  app.use('/api/*', bodyLimit({ maxSize: MAX_BODY_BYTES, onError: () => { throw badInput(`request body too large (at most ${MAX_BODY_BYTES} bytes)`); } }));

  // the page, from the bundle (page-assets.ts); from source without a build, a pointer to the API
  const page = deps.page;
  if (page) {
    const html = pageHtml(page);
    const names = assetNames(page);
    app.get('/', (c) => c.html(html));
    app.get(names.js, (c) => {
      c.header('Cache-Control', 'public, max-age=31536000, immutable');
      return c.body(page.js, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
    });
    app.get(names.css, (c) => {
      c.header('Cache-Control', 'public, max-age=31536000, immutable');
      return c.body(page.css, 200, { 'Content-Type': 'text/css; charset=utf-8' });
    });
  } else {
    app.get('/', (c) => c.html(PLACEHOLDER));
  }

  // a one-time link from `raptor web login` becomes a session cookie
  app.get('/login/:secret', (c) => {
    const source = sourceOf(c);
    // a link opened from a terminal is a navigation of no site; another site's link would sign the victim in as someone else
    const fetchSite = c.req.header('sec-fetch-site');
    if (fetchSite === 'cross-site' || fetchSite === 'same-site') throw notAllowed('a sign-in link works only when opened directly (paste it into the address bar)');
    const cred = deps.credentials.consumeLogin(c.req.param('secret'));
    if (!cred) {
      if (!perSource.hit(`link:${source}`)) throw notAllowed('too many sign-in attempts: wait a minute');
      throw new Unauthorized('this sign-in link is not valid (used, expired or mistyped): run raptor web login again');
    }
    if (!actorFor(config, deps.accounts.byUid(cred.uid), cred)) throw new Unauthorized(`${cred.user} is no longer in ${config.access.user_group} or an admin group`);
    const { secret, credential } = deps.credentials.issue('session', cred, config.web.session_ttl_s);
    setCookie(c, SESSION_COOKIE, secret, { httpOnly: true, sameSite: 'Strict', path: '/', secure, maxAge: config.web.session_ttl_s, expires: new Date(credential.expires) });
    return c.redirect('/', 303);
  });

  // `raptor web login|token|logout --all`: the kernel says who, through the spool file's owner
  app.post(PROOF_PATH, async (c) => {
    const source = sourceOf(c);
    const body = await readBody(c, proofBody);
    let uid: number;
    try {
      uid = deps.redeemProof(body.file, body.nonce).uid;
    } catch (err) {
      if (!perSource.hit(`proof:${source}`)) throw notAllowed('too many failed sign-in attempts from this address: wait a minute');
      throw err;
    }
    if (!perUser.hit(`uid:${uid}`)) throw notAllowed('too many sign-ins for this account: wait a minute');
    const account = deps.accounts.byUid(uid);
    const actor = account && actorFor(config, account, account);
    if (body.want === 'logout-all') {
      return c.json({ user: account?.user ?? String(uid), revoked: deps.credentials.revokeUid(uid) });
    }
    if (!actor) throw notAllowed(`${account?.user ?? `uid ${uid}`} is neither in ${config.access.user_group} nor in an admin group (${config.access.admin_groups.join(', ')}): no web sign-in`);
    if (body.want === 'token') {
      const { secret, credential } = deps.credentials.issue('token', actor, config.web.token_ttl_s);
      return c.json({ token: secret, expires: credential.expires });
    }
    const { secret, credential } = deps.credentials.issue('login', actor, config.web.login_url_ttl_s);
    return c.json({ url: `${publicBase(config)}/login/${secret}`, expires: credential.expires });
  });

  app.use('/api/v1/*', async (c, next) => {
    if (c.req.path === PROOF_PATH) return next();
    c.set('signed', authenticate(deps, { authorization: c.req.header('authorization'), cookie: c.req.header('cookie') }));
    await next();
  });

  app.post('/api/v1/logout', (c) => {
    const signed = c.get('signed');
    deps.credentials.revoke(signed.secret);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.json({ user: signed.actor.user, revoked: 1 });
  });

  app.get('/api/v1/me', (c) => {
    const { actor, admin } = c.get('signed');
    return c.json({ user: actor.user, groups: actor.groups, admin });
  });

  app.get('/api/v1/vms', async (c) => {
    const signed = c.get('signed');
    const vms = await deps.service.listVms(signed.actor);
    // libvirt shows a vm-user only their own; this keeps it so if a rule were ever wrong
    return c.json(signed.admin ? vms : vms.filter((v) => (v as { user?: unknown }).user === signed.actor.user));
  });

  app.post('/api/v1/vms', async (c) => {
    const signed = c.get('signed');
    authorizeAdmin(signed.actor, config, 'vm create');
    const body = await readBody(c, createVmBody);
    // refusals (bad sizes, exists, no capacity) answer now, with their status, before any change
    const plan = await deps.service.planCreate(signed.actor, body);
    if (body.dryRun) return c.json(plan, 200);
    const vm = domainName(parseVmId(body.id));
    const op = operations.start('vm create', vm, signed.actor, (onEvent) => deps.service.createVm(signed.actor, body, onEvent));
    const url = `/api/v1/operations/${op.id}`;
    c.header('Location', url);
    return c.json({ operation: url }, 202);
  });

  app.get('/api/v1/vms/:id', async (c) => {
    const signed = c.get('signed');
    return c.json(await deps.service.showVm(signed.actor, vmFor(signed, c.req.param('id'))));
  });

  app.delete('/api/v1/vms/:id', async (c) => {
    const signed = c.get('signed');
    authorizeAdmin(signed.actor, config, 'vm destroy');
    const vm = vmFor(signed, c.req.param('id'));
    if (c.req.query('dryRun') === '1' || c.req.query('dryRun') === 'true') return c.json(await deps.service.planDestroy(signed.actor, vm));
    await deps.service.planDestroy(signed.actor, vm); // not found, or refused, before the 202
    const op = operations.start('vm destroy', domainName(vm), signed.actor, (onEvent) => deps.service.destroyVm(signed.actor, vm, onEvent));
    const url = `/api/v1/operations/${op.id}`;
    c.header('Location', url);
    return c.json({ operation: url }, 202);
  });

  app.post('/api/v1/vms/:id/:verb', async (c) => {
    const signed = c.get('signed');
    const verb = c.req.param('verb');
    if (verb !== 'start' && verb !== 'stop' && verb !== 'reboot') throw notFound(`no such action: ${verb} (start, stop or reboot)`);
    const vm = vmFor(signed, c.req.param('id'));
    const body = await readBody(c, powerBody, true);
    return c.json(await deps.service.power(signed.actor, vm, verb as PowerVerb, Boolean(body.force)));
  });

  app.get('/api/v1/users', async (c) => {
    const signed = c.get('signed');
    authorizeAdmin(signed.actor, config, 'user list');
    if (!deps.service.listUsers) throw notFound('no user list on this server');
    return c.json(await deps.service.listUsers(signed.actor));
  });

  app.get('/api/v1/host/check', async (c) => {
    const signed = c.get('signed');
    authorizeAdmin(signed.actor, config, 'host check');
    return c.json(await deps.service.hostCheck(signed.actor));
  });

  app.get('/api/v1/operations/:id', async (c) => {
    const signed = c.get('signed');
    const id = c.req.param('id');
    const who = { uid: signed.actor.uid, admin: signed.admin };
    if (!operations.get(id, who)) throw notFound(`operation ${id} not found`);
    if (c.req.query('wait') === '1') await operations.wait(id, waitMs);
    return c.json(operations.get(id, who));
  });

  // the console's WebSocket arrives as an `upgrade` on the server (server.ts), not here
  app.get('/api/v1/vms/:id/console', () => {
    throw badInput('the console is a WebSocket: connect with an Upgrade: websocket request');
  });

  return app;
}
