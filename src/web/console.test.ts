// The console WebSocket in-process, on a real loopback socket with a fake console: every upgrade
// is judged (Host, Origin, credentials, the VM) before it is accepted; one console per VM is
// shared with scrollback; limits on viewers, sessions and frames; the console ends after the last
// viewer leaves. And the page: its CSP, no inline script, its assets from the bundle.
import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { WebSocket } from 'ws';
import { defaultConfig } from '../core/config.ts';
import { notFound } from '../core/errors.ts';
import { domainName, type VmId } from '../core/naming.ts';
import type { Actor } from '../core/actor.ts';
import { CredentialStore, type AccountEntry } from '../service/web-auth.ts';
import { createApp, type AppDeps } from './app.ts';
import type { ConsoleLimits } from './console.ts';
import { startServer } from './server.ts';
import type { WebService } from './service-bridge.ts';

const ACCOUNTS: AccountEntry[] = [
  { user: 'alice', uid: 1001, gid: 1001, groups: ['alice', 'vm-users'] },
  { user: 'bob', uid: 1002, gid: 1002, groups: ['bob', 'vm-users'] },
  { user: 'carol', uid: 1003, gid: 1003, groups: ['carol', 'wheel'] },
];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A console per VM: what the "guest" writes goes to viewers; what viewers write is kept. */
class FakeConsoles {
  opened: string[] = [];
  checked: string[] = [];
  guests = new Map<string, { out: PassThrough; typed: Buffer[]; destroyed: boolean }>();
  /** the VMs libvirt lets each user see (admins: all) */
  visible: Record<string, string[]> = { alice: ['alice-a'], bob: ['bob-b'], carol: ['alice-a', 'bob-b'] };
  private see(actor: Actor, vm: VmId) {
    if (!this.visible[actor.user]?.includes(domainName(vm))) throw notFound(`VM ${domainName(vm)} not found`);
  }
  async open(actor: Actor, vm: VmId): Promise<Duplex> {
    this.opened.push(`${actor.user} ${domainName(vm)}`);
    this.see(actor, vm);
    const out = new PassThrough();
    const g = { out, typed: [] as Buffer[], destroyed: false };
    this.guests.set(domainName(vm), g);
    const input = new PassThrough();
    input.on('data', (d: Buffer) => g.typed.push(d));
    const stream = Duplex.from({ readable: out, writable: input });
    stream.on('close', () => (g.destroyed = true));
    return stream;
  }
  async check(actor: Actor, vm: VmId): Promise<void> {
    this.checked.push(`${actor.user} ${domainName(vm)}`);
    this.see(actor, vm);
  }
}

const noService = new Proxy({}, { get: () => async () => [] }) as unknown as WebService;

async function setup(limits: Partial<ConsoleLimits> = {}) {
  const port = await freePort();
  const config = defaultConfig();
  config.web.listen = `127.0.0.1:${port}`;
  const accounts = new Map(ACCOUNTS.map((a) => [a.uid, structuredClone(a)]));
  const credentials = new CredentialStore();
  const consoles = new FakeConsoles();
  const deps: AppDeps & { limits?: Partial<ConsoleLimits> } = {
    config,
    service: noService,
    credentials,
    accounts: { byUid: (uid) => accounts.get(uid) },
    redeemProof: () => {
      throw new Error('no proofs here');
    },
    consoles: { open: (a, v) => consoles.open(a, v), check: (a, v) => consoles.check(a, v) },
  };
  const server = await startServer(deps, { graceMs: 200, ...limits });
  const origin = `http://127.0.0.1:${port}`;
  const token = (user: string) => credentials.issue('token', ACCOUNTS.find((a) => a.user === user)!, 3600).secret;
  return { port, origin, server, consoles, credentials, accounts, token, config };
}

type Outcome = { status: number; body: string } | { ws: WebSocket };

/** Try an upgrade: the HTTP refusal (status, body), or the open WebSocket. */
function connect(port: number, vm: string, opts: { headers?: Record<string, string>; origin?: string; token?: string; cookie?: string } = {}): Promise<Outcome> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/vms/${vm}/console`, { headers, ...(opts.origin !== undefined ? { origin: opts.origin } : {}) });
  collect(ws);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('open', () => resolve({ ws }));
    ws.once('error', (err) => reject(err));
  });
}

async function refused(o: Outcome, status: number, re: RegExp): Promise<void> {
  assert.ok('status' in o, 'the upgrade was accepted');
  assert.equal(o.status, status, o.body);
  const doc = JSON.parse(o.body) as { error: { message: string } };
  assert.match(doc.error.message, re);
}

function open(o: Outcome): WebSocket {
  assert.ok('ws' in o, `refused: ${'status' in o ? `${o.status} ${o.body}` : ''}`);
  return o.ws;
}

/** What each viewer received, collected from the start (the scrollback may arrive with the handshake). */
const inbox = new WeakMap<WebSocket, { text: string; binary: boolean; wake: Set<() => void> }>();

function collect(ws: WebSocket): void {
  const box = { text: '', binary: true, wake: new Set<() => void>() };
  inbox.set(ws, box);
  ws.on('message', (d: Buffer, isBinary: boolean) => {
    box.text += d.toString('latin1');
    box.binary &&= isBinary;
    for (const w of box.wake) w();
  });
}

/** Everything the viewer received so far once `re` matches it; consumed, so the next wait sees only newer bytes. */
function receive(ws: WebSocket, re: RegExp, timeoutMs = 3000): Promise<{ text: string; binary: boolean }> {
  const box = inbox.get(ws)!;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!re.test(box.text)) return;
      clearTimeout(timer);
      box.wake.delete(check);
      const got = { text: box.text, binary: box.binary };
      box.text = '';
      resolve(got);
    };
    const timer = setTimeout(() => {
      box.wake.delete(check);
      reject(new Error(`no ${re}: got ${JSON.stringify(box.text.slice(-200))}`));
    }, timeoutMs);
    box.wake.add(check);
    check();
  });
}

const closed = (ws: WebSocket): Promise<{ code: number; reason: string }> =>
  new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

const until = async (what: string, cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('console WebSocket: the upgrade checks', () => {
  let s: Awaited<ReturnType<typeof setup>>;
  beforeEach(async () => {
    s = await setup();
  });
  afterEach(() => s.server.close());

  test('a forged Origin is refused with 403 before any console is opened', async () => {
    await refused(await connect(s.port, 'alice-a', { token: s.token('alice'), origin: 'https://evil.example' }), 403, /cross-site WebSocket refused/);
    // the same host on another port or scheme is another origin
    await refused(await connect(s.port, 'alice-a', { token: s.token('alice'), origin: `http://127.0.0.1:${s.port + 1}` }), 403, /cross-site/);
    await refused(await connect(s.port, 'alice-a', { token: s.token('alice'), origin: `https://127.0.0.1:${s.port}` }), 403, /cross-site/);
    assert.deepEqual(s.consoles.opened, []);
  });

  test('no Origin at all is refused too (a WebSocket from a browser always has one)', async () => {
    await refused(await connect(s.port, 'alice-a', { token: s.token('alice') }), 403, /must carry the Origin/);
    assert.deepEqual(s.consoles.opened, []);
  });

  test('a Host the server is not is refused (DNS rebinding), even with a matching Origin', async () => {
    const rebound = `evil.example:${s.port}`;
    await refused(await connect(s.port, 'alice-a', { token: s.token('alice'), headers: { host: rebound }, origin: `http://${rebound}` }), 403, /does not answer to Host/);
    await refused(await connect(s.port, 'alice-a', { token: s.token('alice'), headers: { host: rebound }, origin: s.origin }), 403, /does not answer to Host/);
    assert.deepEqual(s.consoles.opened, []);
  });

  test('no credentials, a mistyped token or a revoked one: 401', async () => {
    await refused(await connect(s.port, 'alice-a', { origin: s.origin }), 401, /sign in/);
    await refused(await connect(s.port, 'alice-a', { origin: s.origin, token: 'rpt_' + 'x'.repeat(43) }), 401, /not valid/);
    const token = s.token('alice');
    s.credentials.revoke(token);
    await refused(await connect(s.port, 'alice-a', { origin: s.origin, token }), 401, /not valid/);
    // an account that left vm-users is signed out at the upgrade too
    const t2 = s.token('alice');
    s.accounts.get(1001)!.groups = ['alice'];
    await refused(await connect(s.port, 'alice-a', { origin: s.origin, token: t2 }), 401, /no longer in vm-users/);
    assert.deepEqual(s.consoles.opened, []);
  });

  test("another user's VM is 404 without asking libvirt; a VM libvirt hides is 404 as well", async () => {
    await refused(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('bob') }), 404, /VM alice-a not found/);
    assert.deepEqual(s.consoles.opened, []);
    await refused(await connect(s.port, 'bob-nope', { origin: s.origin, token: s.token('bob') }), 404, /VM bob-nope not found/);
    assert.deepEqual(s.consoles.opened, ['bob bob-nope']);
    assert.equal(s.consoles.guests.size, 0);
    await refused(await connect(s.port, 'Alice-A', { origin: s.origin, token: s.token('alice') }), 400, /./);
  });

  test('another path is not a WebSocket (404); a plain GET of the console path is 400', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/api/v1/me`, { origin: s.origin, headers: { authorization: `Bearer ${s.token('alice')}` } });
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 404);
    const plain = await fetch(`http://127.0.0.1:${s.port}/api/v1/vms/alice-a/console`, { headers: { authorization: `Bearer ${s.token('alice')}` } });
    assert.equal(plain.status, 400);
  });

  test('a valid upgrade (token or session cookie) is 101 and carries bytes both ways as binary frames', async () => {
    const ws = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    assert.deepEqual(s.consoles.opened, ['alice alice-a']);
    const got = receive(ws, /login: $/);
    s.consoles.guests.get('alice-a')!.out.write('Debian GNU/Linux\r\nalice-a login: ');
    const r = await got;
    assert.equal(r.binary, true);
    ws.send(Buffer.from('root\r'));
    await until('the keystrokes to reach the console', () => Buffer.concat(s.consoles.guests.get('alice-a')!.typed).toString() === 'root\r');
    ws.close();
    const cookie = `raptor_session=${s.credentials.issue('session', ACCOUNTS[0]!, 3600).secret}`;
    const viaCookie = open(await connect(s.port, 'alice-a', { origin: s.origin, cookie }));
    viaCookie.close();
  });
});

describe('console WebSocket: one shared session per VM', () => {
  let s: Awaited<ReturnType<typeof setup>>;
  afterEach(() => s.server.close());

  test('viewers share one console; a new viewer gets the scrollback; an admin joins after a visibility check', async () => {
    s = await setup();
    const a1 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    const guest = s.consoles.guests.get('alice-a')!;
    const seen1 = receive(a1, /boot done/);
    guest.out.write('kernel: boot done\r\n');
    await seen1;
    const a2 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    const replay = await receive(a2, /boot done/);
    assert.match(replay.text, /kernel: boot done/);
    const admin = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('carol') }));
    await receive(admin, /boot done/);
    assert.deepEqual(s.consoles.opened, ['alice alice-a'], 'one console for the VM');
    assert.deepEqual(s.consoles.checked, ['alice alice-a', 'carol alice-a']);
    // output after joining reaches every viewer
    const all = [a1, a2, admin].map((w) => receive(w, /second line/));
    guest.out.write('second line\r\n');
    await Promise.all(all);
    for (const w of [a1, a2, admin]) w.close();
  });

  test('a joiner libvirt does not let see the VM is refused, though the console is open', async () => {
    s = await setup();
    const a1 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    s.consoles.visible.carol = []; // an admin whose polkit rule were narrower
    await refused(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('carol') }), 404, /not found/);
    assert.equal(s.server.consoles!.sessions.get('alice-a')!.size, 1);
    a1.close();
  });

  test('the scrollback is bounded: a new viewer gets only the last bytes', async () => {
    s = await setup({ scrollbackBytes: 1024 });
    const a1 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    const guest = s.consoles.guests.get('alice-a')!;
    const done = receive(a1, /END$/);
    guest.out.write('A'.repeat(4000));
    guest.out.write('B'.repeat(600) + 'END');
    await done;
    const a2 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    const replay = await receive(a2, /END$/);
    assert.equal(replay.text.length, 1024);
    assert.equal(replay.text, 'A'.repeat(1024 - 603) + 'B'.repeat(600) + 'END');
    a1.close();
    a2.close();
  });

  test('viewers per VM and consoles per server are limited (409); a frame past the limit closes that viewer (1009)', async () => {
    s = await setup({ viewersPerVm: 2, sessions: 1, maxFrameBytes: 1024 });
    const v1 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    const v2 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    await refused(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }), 409, /2 viewers already/);
    await refused(await connect(s.port, 'bob-b', { origin: s.origin, token: s.token('bob') }), 409, /1 consoles are open/);
    const bye = closed(v2);
    v2.send(Buffer.alloc(2048, 0x61));
    assert.equal((await bye).code, 1009);
    assert.equal(Buffer.concat(s.consoles.guests.get('alice-a')!.typed).length, 0, 'the oversized frame reached nothing');
    // its place is free again
    const v3 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    v1.close();
    v3.close();
  });

  test('the console closes a grace after the last viewer left; a viewer back within it finds it open', async () => {
    s = await setup({ graceMs: 300 });
    const v1 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    const guest = s.consoles.guests.get('alice-a')!;
    v1.close();
    await new Promise((r) => setTimeout(r, 100));
    const v2 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    assert.equal(s.consoles.opened.length, 1, 'reused within the grace');
    v2.close();
    await until('the console to close', () => guest.destroyed);
    assert.equal(s.server.consoles!.sessions.size, 0);
    const v3 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    assert.equal(s.consoles.opened.length, 2, 'opened again');
    v3.close();
  });

  test('the console ending (guest gone) closes its viewers; a revoked credential is cut off at the next check', async () => {
    s = await setup({ recheckMs: 100 });
    const v1 = open(await connect(s.port, 'alice-a', { origin: s.origin, token: s.token('alice') }));
    const bye = closed(v1);
    s.consoles.guests.get('alice-a')!.out.end();
    assert.equal((await bye).code, 1000);
    const token = s.token('alice');
    const v2 = open(await connect(s.port, 'alice-a', { origin: s.origin, token }));
    const cut = closed(v2);
    s.credentials.revoke(token);
    assert.deepEqual(await cut, { code: 4401, reason: 'signed out' });
  });
});

describe('the page', () => {
  const page = { js: 'console.log("raptor page")', css: 'body{color:red}' };
  const app = createApp({
    config: defaultConfig(),
    service: noService,
    credentials: new CredentialStore(),
    accounts: { byUid: () => undefined },
    redeemProof: () => ({ uid: 0 }),
    page,
  });
  const get = (path: string) => app.request(`http://127.0.0.1:8470${path}`, { headers: { host: '127.0.0.1:8470' } });

  test('/ is the page: a strict CSP (script-src self), no inline script, assets by content hash', async () => {
    const r = await get('/');
    assert.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    const html = await r.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    assert.equal(scripts[0]![2], '', 'no inline script');
    const js = /src="(\/assets\/app-[0-9a-f]{12}\.js)"/.exec(html)?.[1];
    const css = /href="(\/assets\/app-[0-9a-f]{12}\.css)"/.exec(html)?.[1];
    assert.ok(js && css, html);
    const jr = await get(js);
    assert.equal(jr.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await jr.text(), page.js);
    const cr = await get(css);
    assert.equal(cr.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal(await cr.text(), page.css);
    assert.equal((await get('/assets/app-000000000000.js')).status, 404);
  });

  test('the page is refused under a foreign Host like the API', async () => {
    const r = await app.request('http://evil.example/', { headers: { host: 'evil.example' } });
    assert.equal(r.status, 403);
  });
});
