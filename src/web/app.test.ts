// The HTTP API in-process on fakes: authentication, the error mapping, validation, admin-only refusals.
import { test, describe, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, type Config } from '../core/config.ts';
import { conflict, notFound, RaptorError, badInput } from '../core/errors.ts';
import { domainName, type VmId } from '../core/naming.ts';
import { createApp, SESSION_COOKIE } from './app.ts';
import { CredentialStore, type AccountEntry } from '../service/web-auth.ts';
import { Operations } from './operations.ts';
import type { Actor, ProgressEvent, WebService } from './service-bridge.ts';

const BASE = 'http://127.0.0.1:8470';

interface Vm {
  name: string;
  user: string;
  state: string;
}

class FakeService implements WebService {
  vms: Vm[] = [
    { name: 'alice-a', user: 'alice', state: 'shut off' },
    { name: 'bob-b', user: 'bob', state: 'running' },
  ];
  calls: string[] = [];
  failWith: Error | undefined;
  async listVms(actor: Actor) {
    this.calls.push(`list ${actor.user}`);
    if (this.failWith) throw this.failWith;
    // what polkit lets each see: admins all, vm-users their own
    return actor.groups.includes('wheel') ? this.vms : this.vms.filter((v) => v.user === actor.user);
  }
  async showVm(actor: Actor, vm: VmId) {
    this.calls.push(`show ${actor.user} ${domainName(vm)}`);
    if (this.failWith) throw this.failWith;
    const v = this.vms.find((x) => x.name === domainName(vm));
    if (!v) throw notFound(`VM ${domainName(vm)} not found`);
    return { ...v, pending: null };
  }
  async power(actor: Actor, vm: VmId, verb: string, force: boolean) {
    this.calls.push(`${verb} ${actor.user} ${domainName(vm)} ${force}`);
    if (this.failWith) throw this.failWith;
    return { vm: domainName(vm), result: force ? 'forced off' : `${verb}ed` };
  }
  async planCreate(actor: Actor, body: { id: string }) {
    this.calls.push(`plan-create ${actor.user} ${body.id}`);
    if (this.vms.some((v) => v.name === body.id)) throw conflict(`VM ${body.id} already exists`);
    return { dryRun: true, vm: body.id, steps: [] };
  }
  async createVm(actor: Actor, body: { id: string }, onEvent: (e: ProgressEvent) => void) {
    this.calls.push(`create ${actor.user} ${body.id}`);
    onEvent({ type: 'step', status: 'started', step: 'lv-create', title: 'create LV', index: 0, count: 1 });
    onEvent({ type: 'step', status: 'finished', step: 'lv-create', title: 'create LV', index: 0, count: 1, ms: 5 });
    this.vms.push({ name: body.id, user: body.id.split('-')[0]!, state: 'shut off' });
    return { created: body.id };
  }
  async planDestroy(actor: Actor, vm: VmId) {
    this.calls.push(`plan-destroy ${actor.user} ${domainName(vm)}`);
    if (!this.vms.some((v) => v.name === domainName(vm))) throw notFound(`VM ${domainName(vm)} not found`);
    return { dryRun: true, vm: domainName(vm), steps: [] };
  }
  async destroyVm(actor: Actor, vm: VmId, onEvent: (e: ProgressEvent) => void) {
    this.calls.push(`destroy ${actor.user} ${domainName(vm)}`);
    onEvent({ type: 'bytes', step: 'lv-wipe', index: 0, phase: 'wipe', done: 1, total: 2 });
    onEvent({ type: 'bytes', step: 'lv-wipe', index: 0, phase: 'wipe', done: 2, total: 2 });
    this.vms = this.vms.filter((v) => v.name !== domainName(vm));
    return { destroyed: domainName(vm) };
  }
  async hostCheck(actor: Actor) {
    this.calls.push(`check ${actor.user}`);
    return [{ check: 'libvirt reachable', ok: true, detail: 'fake', fix: null }];
  }
}

const ACCOUNTS: AccountEntry[] = [
  { user: 'alice', uid: 1001, gid: 1001, groups: ['alice', 'vm-users'] },
  { user: 'bob', uid: 1002, gid: 1002, groups: ['bob', 'vm-users'] },
  { user: 'carol', uid: 1003, gid: 1003, groups: ['carol', 'wheel'] },
  { user: 'dave', uid: 1004, gid: 1004, groups: ['dave'] },
];

function setup(configure: (c: Config) => void = () => {}) {
  const config = defaultConfig();
  configure(config);
  let now = new Date('2026-12-01T10:00:00Z');
  const clock = { advance: (s: number) => (now = new Date(now.getTime() + s * 1000)) };
  const accounts = new Map(ACCOUNTS.map((a) => [a.uid, structuredClone(a)]));
  const credentials = new CredentialStore({ now: () => now });
  const service = new FakeService();
  const proofs = new Map<string, number>();
  const app = createApp({
    config,
    service,
    credentials,
    accounts: { byUid: (uid) => accounts.get(uid) },
    redeemProof: (file, nonce) => {
      const uid = proofs.get(`${file}/${nonce}`);
      if (uid === undefined) throw new RaptorError('not-allowed', 'sign-in proof refused: no such proof');
      proofs.delete(`${file}/${nonce}`);
      return { uid };
    },
    operations: new Operations(() => now),
    waitMs: 2000,
  });
  let n = 0;
  const proofFor = (uid: number) => {
    const file = (++n).toString(16).padStart(64, '0');
    const nonce = 'ab'.repeat(32);
    proofs.set(`${file}/${nonce}`, uid);
    return { file, nonce };
  };
  const req = (path: string, init: RequestInit & { token?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.token) headers.set('authorization', `Bearer ${init.token}`);
    if (!headers.has('host')) headers.set('host', '127.0.0.1:8470');
    return app.request(`${BASE}${path}`, { ...init, headers });
  };
  const post = (path: string, body: unknown, init: RequestInit & { token?: string } = {}) =>
    req(path, { ...init, method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });
  const tokenFor = async (user: string): Promise<string> => {
    const uid = ACCOUNTS.find((a) => a.user === user)!.uid;
    const r = await post('/api/v1/auth/proof', { ...proofFor(uid), want: 'token' });
    assert.equal(r.status, 200, await r.clone().text());
    return ((await r.json()) as { token: string }).token;
  };
  return { app, config, clock, accounts, credentials, service, proofFor, req, post, tokenFor };
}

type Json = Record<string, unknown> & { error?: { code: string; message: string; exitCode?: number } };
const json = async (r: Response): Promise<Json> => (await r.json()) as Json;

describe('web API: authentication', () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => {
    s = setup();
  });

  test('no credentials is 401 with the error shape; a valid token answers /me', async () => {
    const none = await s.req('/api/v1/me');
    assert.equal(none.status, 401);
    assert.equal((await json(none)).error?.code, 'unauthorized');
    const token = await s.tokenFor('alice');
    assert.match(token, /^rpt_[A-Za-z0-9_-]{43}$/);
    const me = await s.req('/api/v1/me', { token });
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), { user: 'alice', groups: ['alice', 'vm-users'], admin: false });
    const carol = await s.req('/api/v1/me', { token: await s.tokenFor('carol') });
    assert.equal((await json(carol)).admin, true);
  });

  test('a token answers {token, expires} with the configured lifetime', async () => {
    const r = await s.post('/api/v1/auth/proof', { ...s.proofFor(1001), want: 'token' });
    const body = await json(r);
    assert.equal(body.expires, new Date(Date.parse('2026-12-01T10:00:00Z') + s.config.web.token_ttl_s * 1000).toISOString());
  });

  test('an expired token is 401', async () => {
    const token = await s.tokenFor('alice');
    s.clock.advance(s.config.web.token_ttl_s - 1);
    assert.equal((await s.req('/api/v1/me', { token })).status, 200);
    s.clock.advance(2);
    const r = await s.req('/api/v1/me', { token });
    assert.equal(r.status, 401);
    assert.match((await json(r)).error!.message, /expired, revoked or mistyped/);
  });

  test('a tampered token is 401 (one character changed, cut short, another scheme)', async () => {
    const token = await s.tokenFor('alice');
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    for (const bad of [token.slice(0, -1) + last, token.slice(0, -1), `${token}x`]) {
      assert.equal((await s.req('/api/v1/me', { token: bad })).status, 401, bad);
    }
    assert.equal((await s.req('/api/v1/me', { headers: { authorization: `Basic ${token}` } })).status, 401);
  });

  test('logout --all revokes every token and session of the account, and only its own', async () => {
    const a1 = await s.tokenFor('alice');
    const a2 = await s.tokenFor('alice');
    const b = await s.tokenFor('bob');
    const r = await s.post('/api/v1/auth/proof', { ...s.proofFor(1001), want: 'logout-all' });
    assert.deepEqual(await r.json(), { user: 'alice', revoked: 2 });
    assert.equal((await s.req('/api/v1/me', { token: a1 })).status, 401);
    assert.equal((await s.req('/api/v1/me', { token: a2 })).status, 401);
    assert.equal((await s.req('/api/v1/me', { token: b })).status, 200);
  });

  test('an account removed from vm-users is signed out at its next request, for good', async () => {
    const token = await s.tokenFor('alice');
    s.accounts.get(1001)!.groups = ['alice'];
    const r = await s.req('/api/v1/vms', { token });
    assert.equal(r.status, 401);
    assert.match((await json(r)).error!.message, /no longer in vm-users/);
    assert.deepEqual(s.service.calls, [], 'no service call for a revoked account');
    s.accounts.get(1001)!.groups = ['alice', 'vm-users'];
    assert.equal((await s.req('/api/v1/me', { token })).status, 401, 'the token was deleted, not only refused');
  });

  test('a uid that now names another account does not inherit the token', async () => {
    const token = await s.tokenFor('alice');
    s.accounts.set(1001, { user: 'mallory', uid: 1001, gid: 1001, groups: ['vm-users'] });
    assert.equal((await s.req('/api/v1/me', { token })).status, 401);
  });

  test('an outsider gets no credential (403, exit 5); a refused proof is 403', async () => {
    const r = await s.post('/api/v1/auth/proof', { ...s.proofFor(1004), want: 'token' });
    assert.equal(r.status, 403);
    const body = await json(r);
    assert.equal(body.error?.code, 'not-allowed');
    assert.equal(body.error?.exitCode, 5);
    assert.deepEqual(s.credentials.count(), { login: 0, session: 0, token: 0 });
    const forged = await s.post('/api/v1/auth/proof', { file: 'f'.repeat(64), nonce: 'ab'.repeat(32), want: 'token' });
    assert.equal(forged.status, 403);
  });

  test('sign-ins are rate-limited per account', async () => {
    const limit = s.config.web.login_per_minute_per_user;
    for (let i = 0; i < limit; i++) assert.equal((await s.post('/api/v1/auth/proof', { ...s.proofFor(1001), want: 'token' })).status, 200);
    const over = await s.post('/api/v1/auth/proof', { ...s.proofFor(1001), want: 'token' });
    assert.equal(over.status, 403);
    assert.match((await json(over)).error!.message, /too many/);
    assert.equal((await s.post('/api/v1/auth/proof', { ...s.proofFor(1002), want: 'token' })).status, 200, 'bob is not held up by alice');
    s.clock.advance(61);
  });

  test('failed proofs are rate-limited per source', async () => {
    const limit = s.config.web.login_per_minute_per_source;
    const bad = { file: 'e'.repeat(64), nonce: 'ab'.repeat(32), want: 'token' };
    for (let i = 0; i < limit; i++) assert.match((await json(await s.post('/api/v1/auth/proof', bad))).error!.message, /proof refused/);
    assert.match((await json(await s.post('/api/v1/auth/proof', bad))).error!.message, /too many failed/);
  });

  test('the one-time link becomes an HttpOnly, SameSite=Strict session cookie, once', async () => {
    const r = await s.post('/api/v1/auth/proof', { ...s.proofFor(1001), want: 'login' });
    const { url } = (await r.json()) as { url: string };
    assert.match(url, /^http:\/\/127\.0\.0\.1:8470\/login\/rpt_/);
    const path = new URL(url).pathname;
    const used = await s.req(path);
    assert.equal(used.status, 303);
    assert.equal(used.headers.get('location'), '/');
    const cookie = used.headers.get('set-cookie') ?? '';
    assert.match(cookie, new RegExp(`^${SESSION_COOKIE}=rpt_`));
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\//);
    const session = cookie.split(';')[0]!;
    const me = await s.req('/api/v1/me', { headers: { cookie: session } });
    assert.equal(me.status, 200);
    assert.equal((await json(me)).user, 'alice');
    assert.equal((await s.req(path)).status, 401, 'a link works once');
    // a session is no bearer token, and a token is no session
    assert.equal((await s.req('/api/v1/me', { token: session.split('=')[1]! })).status, 401);
    s.clock.advance(s.config.web.session_ttl_s + 1);
    assert.equal((await s.req('/api/v1/me', { headers: { cookie: session } })).status, 401, 'sessions expire');
  });

  test('a one-time link followed from another site is refused (login CSRF), and stays unused', async () => {
    const { url } = (await (await s.post('/api/v1/auth/proof', { ...s.proofFor(1001), want: 'login' })).json()) as { url: string };
    const path = new URL(url).pathname;
    const r = await s.req(path, { headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('set-cookie'), null);
    assert.equal((await s.req(path, { headers: { 'sec-fetch-site': 'none' } })).status, 303);
  });

  test('a one-time link expires', async () => {
    const { url } = (await (await s.post('/api/v1/auth/proof', { ...s.proofFor(1001), want: 'login' })).json()) as { url: string };
    s.clock.advance(s.config.web.login_url_ttl_s + 1);
    assert.equal((await s.req(new URL(url).pathname)).status, 401);
  });
});

describe('web API: Host and Origin', () => {
  test('a foreign Host is refused (DNS rebinding), the configured public URL is answered', async () => {
    const s = setup((c) => (c.web.public_url = 'https://vms.example.org'));
    const token = await s.tokenFor('alice');
    assert.equal((await s.req('/api/v1/me', { token, headers: { host: 'evil.example:8470' } })).status, 403);
    assert.equal((await s.req('/api/v1/me', { token, headers: { host: 'vms.example.org' } })).status, 200);
    assert.equal((await s.req('/api/v1/me', { token, headers: { host: 'localhost:8470' } })).status, 200);
    const { url } = (await (await s.post('/api/v1/auth/proof', { ...s.proofFor(1001), want: 'login' })).json()) as { url: string };
    assert.match(url, /^https:\/\/vms\.example\.org\/login\//);
    const set = (await s.req(new URL(url).pathname, { headers: { host: 'vms.example.org' } })).headers.get('set-cookie') ?? '';
    assert.match(set, /Secure/, 'an https public URL makes the cookie Secure');
  });

  test('a change signed in by cookie needs its own Origin (CSRF); a bearer token needs none', async () => {
    const s = setup();
    const { url } = (await (await s.post('/api/v1/auth/proof', { ...s.proofFor(1001), want: 'login' })).json()) as { url: string };
    const cookie = ((await s.req(new URL(url).pathname)).headers.get('set-cookie') ?? '').split(';')[0]!;
    const start = (headers: Record<string, string>) => s.post('/api/v1/vms/alice-a/start', {}, { headers: { cookie, ...headers } });
    const noOrigin = await start({});
    assert.equal(noOrigin.status, 403);
    assert.match((await json(noOrigin)).error!.message, /cross-site/);
    assert.equal((await start({ origin: 'https://evil.example' })).status, 403);
    assert.deepEqual(s.service.calls, [], 'refused before any service call');
    assert.equal((await start({ origin: 'http://127.0.0.1:8470' })).status, 200);
    const token = await s.tokenFor('alice');
    assert.equal((await s.post('/api/v1/vms/alice-a/start', {}, { token })).status, 200);
    assert.equal((await s.post('/api/v1/vms/alice-a/start', {}, { token, headers: { origin: 'https://evil.example' } })).status, 403);
  });
});

describe('web API: VMs', () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => {
    s = setup();
  });

  test('a vm-user lists only their own VMs; another user\'s VM is 404, a bad id 400', async () => {
    const alice = await s.tokenFor('alice');
    const list = (await (await s.req('/api/v1/vms', { token: alice })).json()) as Vm[];
    assert.deepEqual(list.map((v) => v.name), ['alice-a']);
    const own = await s.req('/api/v1/vms/alice-a', { token: alice });
    assert.equal(own.status, 200);
    assert.equal((await json(own)).name, 'alice-a');
    const other = await s.req('/api/v1/vms/bob-b', { token: alice });
    assert.equal(other.status, 404);
    assert.deepEqual(await other.json(), { error: { code: 'not-found', exitCode: 4, message: 'VM bob-b not found' } });
    const missing = await s.req('/api/v1/vms/bob-nope', { token: alice });
    assert.deepEqual(await missing.json(), { error: { code: 'not-found', exitCode: 4, message: 'VM bob-nope not found' } }, "another's VM looks like one that does not exist");
    assert.equal((await s.req('/api/v1/vms/Alice_A', { token: alice })).status, 400);
    assert.equal((await s.post('/api/v1/vms/bob-b/stop', { force: true }, { token: alice })).status, 404);
    assert.ok(!s.service.calls.some((c) => c.includes('bob-b')), 'the service never heard of bob-b for alice');
    const carol = await s.tokenFor('carol');
    assert.equal(((await (await s.req('/api/v1/vms', { token: carol })).json()) as Vm[]).length, 2);
    assert.equal((await s.req('/api/v1/vms/bob-b', { token: carol })).status, 200);
  });

  test('start/stop/reboot take an optional {"force": true}; anything else is 400 or 404', async () => {
    const alice = await s.tokenFor('alice');
    assert.deepEqual(await (await s.post('/api/v1/vms/alice-a/stop', { force: true }, { token: alice })).json(), { vm: 'alice-a', result: 'forced off' });
    assert.equal((await s.req('/api/v1/vms/alice-a/start', { method: 'POST', token: alice })).status, 200, 'no body is fine');
    assert.equal((await s.post('/api/v1/vms/alice-a/stop', { force: 'yes' }, { token: alice })).status, 400);
    assert.equal((await s.post('/api/v1/vms/alice-a/stop', { hard: true }, { token: alice })).status, 400);
    assert.equal((await s.post('/api/v1/vms/alice-a/suspend', {}, { token: alice })).status, 404);
    assert.deepEqual(s.service.calls, ['stop alice alice-a true', 'start alice alice-a false']);
  });

  test('create and destroy are admins\' (403 for a vm-user, with no service call); host check too', async () => {
    const alice = await s.tokenFor('alice');
    const r = await s.post('/api/v1/vms', { id: 'alice-new', cpus: 1, memory: '512M', disk: '1G' }, { token: alice });
    assert.equal(r.status, 403);
    assert.equal((await json(r)).error?.exitCode, 5);
    assert.equal((await s.req('/api/v1/vms/alice-a', { method: 'DELETE', token: alice })).status, 403);
    assert.equal((await s.req('/api/v1/host/check', { token: alice })).status, 403);
    assert.deepEqual(s.service.calls, []);
    assert.deepEqual(s.service.vms.map((v) => v.name), ['alice-a', 'bob-b']);
  });

  test('a bad create body is 400 with nothing asked of the host', async () => {
    const carol = await s.tokenFor('carol');
    for (const body of [
      '{not json',
      '[]',
      { id: 'alice-x', cpus: 'two', memory: '512M', disk: '1G' },
      { id: 'alice-x', cpus: 1, memory: '512M', disk: '1G', colour: 'red' },
      { id: 'alice-x', cpus: 1, memory: '512M', disk: '1G', bridge: 'br-vm1', network: false },
      { cpus: 1, memory: '512M', disk: '1G' },
    ]) {
      const r = await s.post('/api/v1/vms', body, { token: carol });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal((await json(r)).error?.code, 'bad-input');
    }
    assert.equal((await s.post('/api/v1/vms', 'x'.repeat(70_000), { token: carol })).status, 400);
    const chunked = new ReadableStream({
      start(ctrl) {
        for (let i = 0; i < 100; i++) ctrl.enqueue(new TextEncoder().encode('x'.repeat(1024)));
        ctrl.close();
      },
    });
    const big = await s.req('/api/v1/vms', { method: 'POST', token: carol, body: chunked, duplex: 'half' } as RequestInit);
    assert.equal(big.status, 400, 'a body with no length is cut off at the limit too');
    assert.deepEqual(s.service.calls, []);
  });

  test('dryRun answers 200 with the plan; a create answers 202 and an operation with its events', async () => {
    const carol = await s.tokenFor('carol');
    const dry = await s.post('/api/v1/vms', { id: 'alice-new', cpus: 1, memory: '512M', disk: '1G', dryRun: true }, { token: carol });
    assert.equal(dry.status, 200);
    assert.deepEqual(await dry.json(), { dryRun: true, vm: 'alice-new', steps: [] });
    assert.ok(!s.service.calls.some((c) => c.startsWith('create ')), 'a dry run creates nothing');
    const made = await s.post('/api/v1/vms', { id: 'alice-new', cpus: 1, memory: '512M', disk: '1G' }, { token: carol });
    assert.equal(made.status, 202);
    const { operation } = (await made.json()) as { operation: string };
    assert.match(operation, /^\/api\/v1\/operations\/[0-9a-f-]{36}$/);
    assert.equal(made.headers.get('location'), operation);
    const op = await json(await s.req(`${operation}?wait=1`, { token: carol }));
    assert.equal(op.status, 'succeeded');
    assert.equal(op.kind, 'vm create');
    assert.equal(op.vm, 'alice-new');
    assert.equal(op.user, 'carol');
    assert.deepEqual((op.events as ProgressEvent[]).map((e) => (e.type === 'step' ? e.status : e.type)), ['started', 'finished']);
    assert.deepEqual(op.result, { created: 'alice-new' });
    // operations are their starter's (and admins'): alice does not see carol's
    assert.equal((await s.req(operation, { token: await s.tokenFor('alice') })).status, 404);
  });

  test('a create that conflicts is 409 at once, and no operation starts', async () => {
    const carol = await s.tokenFor('carol');
    const r = await s.post('/api/v1/vms', { id: 'alice-a', cpus: 1, memory: '512M', disk: '1G' }, { token: carol });
    assert.equal(r.status, 409);
    assert.deepEqual(await r.json(), { error: { code: 'conflict', exitCode: 3, message: 'VM alice-a already exists' } });
    assert.ok(!s.service.calls.some((c) => c.startsWith('create ')));
  });

  test('destroy: 404 for a missing VM before any change; 202 with the wipe progress otherwise', async () => {
    const carol = await s.tokenFor('carol');
    assert.equal((await s.req('/api/v1/vms/alice-gone', { method: 'DELETE', token: carol })).status, 404);
    const r = await s.req('/api/v1/vms/bob-b', { method: 'DELETE', token: carol });
    assert.equal(r.status, 202);
    const op = await json(await s.req(`${((await r.json()) as { operation: string }).operation}?wait=1`, { token: carol }));
    assert.equal(op.status, 'succeeded');
    // byte counts of one phase collapse into the latest
    assert.deepEqual(op.events, [{ type: 'bytes', step: 'lv-wipe', index: 0, phase: 'wipe', done: 2, total: 2 }]);
    assert.deepEqual(s.service.vms.map((v) => v.name), ['alice-a']);
  });

  test('errors map to statuses as exit codes do: 400, 403, 404, 409, 500', async () => {
    const alice = await s.tokenFor('alice');
    const cases: [Error, number, string][] = [
      [badInput('bad'), 400, 'bad-input'],
      [new RaptorError('not-allowed', 'no'), 403, 'not-allowed'],
      [notFound('gone'), 404, 'not-found'],
      [conflict('busy'), 409, 'conflict'],
      [new RaptorError('unexpected', 'boom'), 500, 'unexpected'],
      [new Error('plain'), 500, 'unexpected'],
    ];
    for (const [err, status, code] of cases) {
      s.service.failWith = err;
      const r = await s.req('/api/v1/vms', { token: alice });
      assert.equal(r.status, status, code);
      assert.deepEqual(await r.json(), { error: { code, exitCode: { 'bad-input': 2, 'not-allowed': 5, 'not-found': 4, conflict: 3, unexpected: 1 }[code], message: err.message } });
    }
  });

  test('an unknown path is a JSON 404; / is the page\'s placeholder', async () => {
    const r = await s.req('/api/v1/nothing', { token: await s.tokenFor('alice') });
    assert.equal(r.status, 404);
    assert.equal((await json(r)).error?.code, 'not-found');
    const page = await s.req('/');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /raptor web login/);
  });
});
