// raptor serve against the sandbox: real accounts sign in with `raptor web token|login` (the
// kernel names them through the spool), the API acts as each user so polkit decides, admins'
// changes run in the server, and credentials are revoked, expire and survive a restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { RAPTOR, SANDBOX_CONFIG, cleanup, hostSnapshot, loadTestConfig, raptor } from './lib/raptor.ts';
import { asUser, defineTinyDomain, domainState, ensureBuilt, groupExists, raptorAs, removeAccount, removeTinyDomain, root, rootOk, TEST_KEYS, waitFor } from './lib/users.ts';
import { hostWebService } from '../../src/web/service-bridge.ts';

const USERS = ['alice', 'bob', 'carol', 'dave'] as const;
const DOMAINS = ['alice-a', 'bob-b'];
const MADE = `alice-w${process.pid}`;
const DIR = `/run/raptor-sandbox/web-${process.pid}`;
const CONFIG = `${DIR}.toml`;

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

let port = 0;
let server: ChildProcess | undefined;
let serverLog = '';

async function startServe(): Promise<void> {
  const child = spawn(process.execPath, [RAPTOR, '--config', CONFIG, 'serve', '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  server = child;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`raptor serve did not start: ${serverLog}`)), 15_000);
    child.stderr!.on('data', (d: Buffer) => {
      serverLog += d.toString();
      if (serverLog.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`raptor serve exited ${code}: ${serverLog}`)));
  });
}

async function stopServe(): Promise<void> {
  const child = server;
  server = undefined;
  if (!child || child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const api = (path: string, init: RequestInit & { token?: string } = {}) => {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  return fetch(`http://127.0.0.1:${port}${path}`, { ...init, headers, redirect: 'manual' });
};
const postJson = (path: string, body: unknown, token: string) => api(path, { method: 'POST', token, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

function tokenOf(user: string): string {
  const r = raptorAs(user, CONFIG, ['--json', 'web', 'token']);
  assert.equal(r.code, 0, `${user}: raptor web token: ${r.stderr}${r.stdout}`);
  const doc = JSON.parse(r.stdout) as { token: string; expires: string };
  assert.ok(Date.parse(doc.expires) > Date.now());
  return doc.token;
}

describe('raptor serve: the web API on the sandbox', { timeout: 600_000 }, () => {
  let createdWheel = false;
  let createdUserGroup = false;
  const tokens: Record<string, string> = {};

  before(async () => {
    ensureBuilt();
    for (const u of USERS) removeAccount(u);
    for (const d of DOMAINS) removeTinyDomain(d);
    port = await freePort();
    mkdirSync(DIR, { recursive: true, mode: 0o755 });
    chmodSync(DIR, 0o755);
    const base = readFileSync(SANDBOX_CONFIG, 'utf8').replace(/^shutdown_timeout_s\s*=.*$/m, 'shutdown_timeout_s = 3');
    writeFileSync(CONFIG, `${base}\n[web]\nlisten = "127.0.0.1:${port}"\nstate_dir = "${DIR}/state"\nspool_dir = "${DIR}/spool"\n`, { mode: 0o644 });
    chmodSync(CONFIG, 0o644);
    createdUserGroup = !groupExists('vm-users');
    const init = await raptor(['host', 'init'], { config: CONFIG });
    assert.equal(init.code, 0, init.stderr);
    if (!groupExists('wheel')) {
      rootOk(['groupadd', 'wheel']);
      createdWheel = true;
    }
    for (const u of ['alice', 'bob'] as const) {
      const r = await raptor(['user', 'add', u, '--ssh-key', TEST_KEYS[u]], { config: CONFIG });
      assert.equal(r.code, 0, r.stderr);
    }
    rootOk(['useradd', '--create-home', '--shell', '/bin/bash', '--groups', 'wheel', 'carol']);
    rootOk(['useradd', '--create-home', '--shell', '/bin/bash', 'dave']);
    for (const d of DOMAINS) defineTinyDomain(d);
    await waitFor('the raptor polkit rules to take effect', () => {
      const o = asUser('alice', ['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']);
      return o.code === 0 && o.stdout.includes('alice-a') && !o.stdout.includes('bob-b');
    });
    await startServe();
    for (const u of ['alice', 'bob', 'carol'] as const) tokens[u] = tokenOf(u);
  });

  after(async () => {
    await stopServe();
    const config = loadTestConfig(CONFIG);
    if (domainState(MADE) !== undefined) await raptor(['vm', 'destroy', MADE, '--yes'], { config: CONFIG });
    cleanup(config, [MADE]);
    for (const d of DOMAINS) removeTinyDomain(d);
    for (const u of USERS) removeAccount(u);
    if (createdWheel) root(['groupdel', 'wheel']);
    if (createdUserGroup) root(['groupdel', 'vm-users']);
    rmSync(DIR, { recursive: true, force: true });
    rmSync(CONFIG, { force: true });
  });

  test('the spool and the store are as the server made them: sticky 1733 and root-only', () => {
    const spool = root(['stat', '-c', '%a %U', `${DIR}/spool`]).stdout.trim();
    assert.equal(spool, '1733 root');
    assert.equal(root(['stat', '-c', '%a %U', `${DIR}/state/credentials.json`]).stdout.trim(), '600 root');
    const store = readFileSync(`${DIR}/state/credentials.json`, 'utf8');
    for (const t of Object.values(tokens)) assert.ok(!store.includes(t), 'tokens are stored hashed');
    // the proofs were deleted once read: nothing is left in the spool
    assert.equal(root(['find', `${DIR}/spool`, '-mindepth', '1']).stdout, '');
  });

  test('each token is its own user (the kernel said who); alice lists only her VMs, bob\'s is 404', async () => {
    for (const u of ['alice', 'bob', 'carol'] as const) {
      const me = (await (await api('/api/v1/me', { token: tokens[u]! })).json()) as { user: string; admin: boolean; groups: string[] };
      assert.equal(me.user, u);
      assert.equal(me.admin, u === 'carol');
    }
    const list = (await (await api('/api/v1/vms', { token: tokens.alice! })).json()) as { name: string }[];
    assert.deepEqual(list.map((v) => v.name).filter((n) => DOMAINS.includes(n)), ['alice-a']);
    assert.deepEqual(list.map((v) => v.name).filter((n) => !n.startsWith('alice-')), []);
    // the same document as the CLI's --json for alice
    const cli = raptorAs('alice', CONFIG, ['--json', 'vm', 'list']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(list, JSON.parse(cli.stdout));
    const own = await api('/api/v1/vms/alice-a', { token: tokens.alice! });
    assert.equal(own.status, 200);
    assert.equal(((await own.json()) as { name: string }).name, 'alice-a');
    const other = await api('/api/v1/vms/bob-b', { token: tokens.alice! });
    assert.equal(other.status, 404);
    assert.deepEqual(await other.json(), { error: { code: 'not-found', exitCode: 4, message: 'VM bob-b not found' } });
    assert.equal((await postJson('/api/v1/vms/bob-b/start', {}, tokens.alice!)).status, 404);
    assert.equal(domainState('bob-b'), 'shut off');
    // what a list costs through the server (virsh as alice behind it), against the CLI's own run
    const ms: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      assert.equal((await api('/api/v1/vms', { token: tokens.alice! })).status, 200);
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    const c0 = performance.now();
    raptorAs('alice', CONFIG, ['--json', 'vm', 'list']);
    console.log(`GET /api/v1/vms as alice: p50 ${ms[10]!.toFixed(1)} ms, max ${ms[19]!.toFixed(1)} ms (20 calls); raptor vm list --json as alice: ${(performance.now() - c0).toFixed(1)} ms`);
    const all = ((await (await api('/api/v1/vms', { token: tokens.carol! })).json()) as { name: string }[]).map((v) => v.name);
    for (const d of DOMAINS) assert.ok(all.includes(d), `carol sees ${d}`);
  });

  test('reads run as the user: the service seam asked libvirt as alice, and polkit hid bob-b', async () => {
    // the bridge without the app's own filter: what libvirt itself showed alice
    const svc = hostWebService(loadTestConfig(CONFIG));
    const id = (flag: string, u: string) => Number(rootOk(['id', flag, u]).trim());
    const alice = { user: 'alice', uid: id('-u', 'alice'), gid: id('-g', 'alice'), groups: rootOk(['id', '-Gn', 'alice']).trim().split(/\s+/), via: 'http' as const };
    const names = ((await svc.listVms(alice)) as { name: string }[]).map((v) => v.name);
    assert.ok(names.includes('alice-a'));
    assert.ok(!names.includes('bob-b'), `libvirt showed alice ${names.join(', ')}`);
  });

  test('alice starts and force-stops her VM through the API', async () => {
    const start = await postJson('/api/v1/vms/alice-a/start', {}, tokens.alice!);
    assert.equal(start.status, 200, await start.clone().text());
    assert.deepEqual(await start.json(), { vm: 'alice-a', result: 'started' });
    assert.equal(domainState('alice-a'), 'running');
    const stop = await postJson('/api/v1/vms/alice-a/stop', { force: true }, tokens.alice!);
    assert.deepEqual(await stop.json(), { vm: 'alice-a', result: 'forced off' });
    assert.equal(domainState('alice-a'), 'shut off');
    const reboot = await postJson('/api/v1/vms/alice-a/reboot', {}, tokens.alice!);
    assert.equal(reboot.status, 409, 'a stopped VM cannot reboot');
  });

  test('the access matrix through the API equals virsh\'s: alice, bob, an admin and an outsider × see, show, start, stop, reboot on each VM (0 mismatches)', async () => {
    // each cell runs twice from the same starting state: once as the user's own virsh, once through the API
    type Op = 'see' | 'show' | 'start' | 'stop' | 'reboot';
    const ops: Op[] = ['see', 'show', 'start', 'stop', 'reboot'];
    const setState = (d: string, want: 'running' | 'shut off') => {
      if (domainState(d) === want) return;
      rootOk(['virsh', '-c', 'qemu:///system', want === 'running' ? 'start' : 'destroy', d]);
    };
    const startOf = (op: Op): 'running' | 'shut off' => (op === 'start' ? 'shut off' : op === 'stop' || op === 'reboot' ? 'running' : 'shut off');
    const virshAllows = (user: string, d: string, op: Op): boolean => {
      const argv = { see: ['list', '--all', '--name'], show: ['dominfo', d], start: ['start', d], stop: ['destroy', d], reboot: ['reset', d] }[op];
      const r = asUser(user, ['virsh', '-c', 'qemu:///system', ...argv]);
      return op === 'see' ? r.code === 0 && r.stdout.split('\n').map((l) => l.trim()).includes(d) : r.code === 0;
    };
    const apiAllows = async (user: string, d: string, op: Op): Promise<{ ok: boolean; status: number }> => {
      const token = tokens[user];
      const auth = token ? { token } : {};
      let res: Response;
      if (op === 'see') {
        res = await api('/api/v1/vms', auth);
        if (res.status !== 200) return { ok: false, status: res.status };
        const names = ((await res.json()) as { name: string }[]).map((v) => v.name);
        return { ok: names.includes(d), status: 200 };
      }
      if (op === 'show') res = await api(`/api/v1/vms/${d}`, auth);
      else res = await api(`/api/v1/vms/${d}/${op}`, { ...auth, method: 'POST', body: JSON.stringify({ force: true }), headers: { 'content-type': 'application/json' } });
      await res.arrayBuffer();
      return { ok: res.status >= 200 && res.status < 300, status: res.status };
    };
    const mismatches: string[] = [];
    let cells = 0;
    try {
      for (const user of USERS) {
        for (const d of DOMAINS) {
          for (const op of ops) {
            setState(d, startOf(op));
            const want = virshAllows(user, d, op);
            setState(d, startOf(op));
            const got = await apiAllows(user, d, op);
            cells++;
            if (got.ok !== want) mismatches.push(`${user} ${op} ${d}: virsh ${want ? 'allows' : 'denies'}, API ${got.status}`);
            // a refusal is 404 for a domain the user may not see, 401 without credentials: never 5xx
            if (!got.ok && op !== 'see') assert.ok([401, 403, 404].includes(got.status), `${user} ${op} ${d}: refused with ${got.status}`);
          }
        }
      }
    } finally {
      for (const d of DOMAINS) setState(d, 'shut off');
    }
    assert.equal(cells, USERS.length * DOMAINS.length * ops.length);
    assert.deepEqual(mismatches, [], `${mismatches.length} of ${cells} cells differ`);
    // the matrix is not trivially all-yes or all-no: alice may act on her own VM only, dave on none
    assert.equal(virshAllows('alice', 'bob-b', 'show'), false);
    assert.equal(virshAllows('alice', 'alice-a', 'show'), true);
    process.stderr.write(`# web access matrix: ${cells} cells, ${mismatches.length} mismatches\n`);
  });

  test('create as a vm-user is 403 and a bad body 400, with nothing changed on the host', async () => {
    const config = loadTestConfig(CONFIG);
    const before = hostSnapshot(config);
    const body = { id: 'alice-x', cpus: 1, memory: '64M', disk: '64M', network: false };
    const r = await postJson('/api/v1/vms', body, tokens.alice!);
    assert.equal(r.status, 403);
    assert.equal(((await r.json()) as { error: { exitCode: number } }).error.exitCode, 5);
    assert.equal((await api('/api/v1/vms/alice-a', { method: 'DELETE', token: tokens.alice! })).status, 403);
    assert.equal((await api('/api/v1/host/check', { token: tokens.alice! })).status, 403);
    for (const bad of [{ ...body, cpus: 0 }, { ...body, memory: 'lots' }, { ...body, id: 'alice_x' }, { ...body, extra: 1 }]) {
      const b = await postJson('/api/v1/vms', bad, tokens.carol!);
      assert.equal(b.status, 400, JSON.stringify(bad));
    }
    assert.equal((await postJson('/api/v1/vms', { ...body, id: 'alice-a' }, tokens.carol!)).status, 409, 'an existing VM conflicts at once');
    const dry = await postJson('/api/v1/vms', { ...body, dryRun: true }, tokens.carol!);
    assert.equal(dry.status, 200);
    const plan = (await dry.json()) as { dryRun: boolean; vm: string; steps: { kind: string }[]; xml: string };
    assert.equal(plan.vm, 'alice-x');
    assert.ok(plan.steps.some((s) => s.kind === 'lv-create'));
    assert.match(plan.xml, /<name>alice-x<\/name>/);
    assert.equal(hostSnapshot(config), before);
  });

  test('an admin creates and destroys a VM as operations with progress events; the audit log names the web user', async () => {
    const since = new Date().toISOString();
    const made = await postJson('/api/v1/vms', { id: MADE, cpus: 1, memory: '64M', disk: '64M', network: false }, tokens.carol!);
    assert.equal(made.status, 202, await made.clone().text());
    const { operation } = (await made.json()) as { operation: string };
    const op = (await (await api(`${operation}?wait=1`, { token: tokens.carol! })).json()) as { status: string; events: { type: string; status?: string; step: string }[]; error: unknown };
    assert.equal(op.status, 'succeeded', JSON.stringify(op.error));
    assert.ok(op.events.some((e) => e.type === 'step' && e.step === 'domain-define' && e.status === 'finished'), JSON.stringify(op.events));
    assert.notEqual(domainState(MADE), undefined);
    assert.equal(((await (await api(`/api/v1/vms/${MADE}`, { token: tokens.alice! })).json()) as { name: string }).name, MADE, 'alice sees the VM made for her');
    assert.equal((await api(operation, { token: tokens.alice! })).status, 404, "carol's operation is not alice's");
    const gone = await api(`/api/v1/vms/${MADE}`, { method: 'DELETE', token: tokens.carol! });
    assert.equal(gone.status, 202);
    const dop = (await (await api(`${((await gone.json()) as { operation: string }).operation}?wait=1`, { token: tokens.carol! })).json()) as { status: string; events: { type: string; phase?: string; done?: number; total?: number }[] };
    assert.equal(dop.status, 'succeeded');
    const wipe = dop.events.filter((e) => e.type === 'bytes' && e.phase === 'wipe');
    assert.ok(wipe.length > 0 && wipe.at(-1)!.done === wipe.at(-1)!.total, JSON.stringify(dop.events));
    assert.equal(domainState(MADE), undefined);
    const audit = readFileSync(loadTestConfig(CONFIG).audit_log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const lines = audit.filter((a) => String(a.time) >= since && JSON.stringify(a).includes(MADE));
    assert.ok(lines.length >= 2, 'create and destroy are audited');
    for (const l of lines) {
      assert.equal(l.user, 'carol', JSON.stringify(l));
      assert.equal(l.via, 'http');
      assert.equal(l.uid, Number(rootOk(['id', '-u', 'carol']).trim()));
    }
  });

  test('an outsider gets exit 5 from raptor web token; a symlinked proof is refused', async () => {
    const r = raptorAs('dave', CONFIG, ['--json', 'web', 'token']);
    assert.equal(r.code, 5, r.stderr + r.stdout);
    assert.match(r.stdout, /neither in vm-users nor in an admin group/);
    // alice points a proof name at a file she cannot read: the server does not follow it
    const name = 'c'.repeat(64);
    const ln = asUser('alice', ['ln', '-s', '/etc/shadow', `${DIR}/spool/${name}`]);
    assert.equal(ln.code, 0, ln.stderr);
    const p = await api('/api/v1/auth/proof', { method: 'POST', body: JSON.stringify({ file: name, nonce: 'a'.repeat(64), want: 'token' }) });
    assert.equal(p.status, 403);
    assert.match(((await p.json()) as { error: { message: string } }).error.message, /proof refused/);
    root(['rm', '-f', `${DIR}/spool/${name}`]);
    // the CLI's own refusals: a server not run as root, a bad address, a logout that does not say --all
    const notRoot = raptorAs('alice', CONFIG, ['serve', '--listen', '127.0.0.1:1']);
    assert.equal(notRoot.code, 5, notRoot.stderr);
    assert.match(notRoot.stderr, /runs as root/);
    assert.equal(raptorAs('alice', CONFIG, ['serve', '--listen', 'nowhere']).code, 2);
    assert.equal(raptorAs('alice', CONFIG, ['web', 'logout']).code, 2);
  });

  test('Host and Origin: a foreign Host is refused; a forged Origin on a change is refused', async () => {
    // fetch sets Host itself: node:http lets a rebinding page's Host through as it would arrive
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/api/v1/me', headers: { host: 'evil.example', authorization: `Bearer ${tokens.alice}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 403);
    const o = await postJson('/api/v1/vms/alice-a/start', {}, tokens.alice!).then(() => api('/api/v1/vms/alice-a/stop', { method: 'POST', token: tokens.alice!, headers: { origin: 'https://evil.example' }, body: '{"force":true}' }));
    assert.equal(o.status, 403);
    assert.equal(domainState('alice-a'), 'running', 'the forged stop did nothing');
    rootOk(['virsh', '-c', 'qemu:///system', 'destroy', 'alice-a']);
  });

  test('raptor web login: the one-time URL becomes a session cookie, once', async () => {
    const r = raptorAs('alice', CONFIG, ['--json', 'web', 'login']);
    assert.equal(r.code, 0, r.stderr);
    const { url } = JSON.parse(r.stdout) as { url: string };
    assert.ok(url.startsWith(`http://127.0.0.1:${port}/login/`));
    const first = await fetch(url, { redirect: 'manual' });
    assert.equal(first.status, 303);
    const cookie = first.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const me = await api('/api/v1/me', { headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(((await me.json()) as { user: string }).user, 'alice');
    assert.equal((await fetch(url, { redirect: 'manual' })).status, 401);
  });

  test('a stale, tampered or revoked token is 401', async () => {
    const t = tokens.alice!;
    assert.equal((await api('/api/v1/me', { token: `${t.slice(0, -2)}${t.endsWith('AA') ? 'BB' : 'AA'}` })).status, 401);
    assert.equal((await api('/api/v1/me')).status, 401);
    const spare = tokenOf('alice');
    const out = raptorAs('alice', CONFIG, ['--json', 'web', 'logout', '--all']);
    assert.equal(out.code, 0, out.stderr);
    assert.ok((JSON.parse(out.stdout) as { revoked: number }).revoked >= 2);
    for (const tok of [t, spare]) {
      const r = await api('/api/v1/vms', { token: tok });
      assert.equal(r.status, 401);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'unauthorized');
    }
    assert.equal((await api('/api/v1/me', { token: tokens.bob! })).status, 200, "alice's logout leaves bob signed in");
    tokens.alice = tokenOf('alice');
  });

  test('a restart of the server keeps valid tokens; one that expired meanwhile is 401', async () => {
    const stale = tokenOf('carol');
    assert.equal((await api('/api/v1/me', { token: stale })).status, 200);
    await stopServe();
    // the token's time runs out while the server is down: its entry on disk says so
    const file = `${DIR}/state/credentials.json`;
    const store = JSON.parse(readFileSync(file, 'utf8')) as { credentials: { hash: string; expires: string }[] };
    const entry = store.credentials.find((c) => c.hash === createHash('sha256').update(stale).digest('hex'));
    assert.ok(entry, 'the store holds the token by its hash');
    entry.expires = new Date(Date.now() - 1000).toISOString();
    writeFileSync(file, JSON.stringify(store), { mode: 0o600 });
    await startServe();
    for (const u of ['alice', 'carol'] as const) {
      const r = await api('/api/v1/me', { token: tokens[u]! });
      assert.equal(r.status, 200, u);
    }
    assert.equal((await api('/api/v1/me', { token: stale })).status, 401);
  });

  test('--socket: the server on a unix socket, and raptor web token reaching it there', async () => {
    const sockConfig = `${DIR}-socket.toml`;
    const sock = `${DIR}/serve.sock`;
    writeFileSync(sockConfig, readFileSync(CONFIG, 'utf8').replace(/state_dir = .*/, `state_dir = "${DIR}/state-socket"\nsocket = "${sock}"`), { mode: 0o644 });
    const child = spawn(process.execPath, [RAPTOR, '--config', sockConfig, 'serve'], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      let log = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (d: Buffer) => {
          log += d.toString();
          if (log.includes(`listening on unix:${sock}`)) resolve();
        });
        child.on('exit', (code) => reject(new Error(`serve --socket exited ${code}: ${log}`)));
      });
      const r = raptorAs('alice', sockConfig, ['--json', 'web', 'token']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const token = (JSON.parse(r.stdout) as { token: string }).token;
      const me = await new Promise<string>((resolve, reject) => {
        const req = httpRequest({ socketPath: sock, path: '/api/v1/me', headers: { host: 'localhost', authorization: `Bearer ${token}` } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal((JSON.parse(me) as { user: string }).user, 'alice');
      assert.equal((await api('/api/v1/me', { token })).status, 401, "one server's token is not another's");
    } finally {
      child.kill('SIGTERM');
      rmSync(sockConfig, { force: true });
    }
  });

  test('a user removed from vm-users is signed out at once, and stays out when re-added', async () => {
    assert.equal((await api('/api/v1/me', { token: tokens.bob! })).status, 200);
    rootOk(['gpasswd', '--delete', 'bob', 'vm-users']);
    try {
      const r = await api('/api/v1/vms', { token: tokens.bob! });
      assert.equal(r.status, 401);
      assert.match(((await r.json()) as { error: { message: string } }).error.message, /no longer in vm-users/);
      const again = raptorAs('bob', CONFIG, ['web', 'token']);
      assert.equal(again.code, 5, again.stderr);
    } finally {
      rootOk(['gpasswd', '--add', 'bob', 'vm-users']);
    }
    assert.equal((await api('/api/v1/me', { token: tokens.bob! })).status, 401, 'the token was deleted, not only refused');
    assert.ok(existsSync(`${DIR}/state/credentials.json`));
  });
});
