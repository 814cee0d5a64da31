// The client against a stand-in daemon on a Unix socket in a temporary directory: the auth
// sequence, serial matching with replies out of order, error replies, a daemon that hangs up.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAuthFailure, isNoConnect, isNoDomain, LibvirtError, VIR_ERR, VIR_FROM } from '../hypervisor.ts';
import { RpcClient, socketPathForUri } from './client.ts';
import { AUTH, decodeMessage, encodeMessage, MessageSplitter, MSG_STATUS, MSG_TYPE, PROC, readOptString, REMOTE_PROGRAM, writeRemoteError, type Header } from './protocol.ts';
import { XdrReader, XdrWriter } from './xdr.ts';

const dir = mkdtempSync(join(tmpdir(), 'raptor-rpc-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

type Answer = { payload?: Buffer; error?: { code: number; domain: number; message: string }; delayMs?: number } | 'hang-up';

/** A daemon that answers each call with handler(proc, payload); it records the calls. */
async function fakeDaemon(handler: (proc: number, payload: Buffer) => Answer): Promise<{ path: string; server: { close(): void }; calls: { proc: number; serial: number; payload: Buffer }[] }> {
  const path = join(dir, `sock-${n++}`);
  const calls: { proc: number; serial: number; payload: Buffer }[] = [];
  const open = new Set<Socket>();
  const server: Server = createServer((sock: Socket) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    const split = new MessageSplitter();
    sock.on('data', (d: Buffer) => {
      for (const f of split.push(d)) {
        const { header, payload } = decodeMessage(f);
        calls.push({ proc: header.proc, serial: header.serial, payload });
        const a = handler(header.proc, payload);
        if (a === 'hang-up') {
          sock.destroy();
          return;
        }
        const reply: Header = { ...header, type: MSG_TYPE.REPLY, status: a.error ? MSG_STATUS.ERROR : MSG_STATUS.OK };
        let body = a.payload ?? Buffer.alloc(0);
        if (a.error) {
          const w = new XdrWriter();
          writeRemoteError(w, { ...a.error, level: 2, dom: undefined, str1: undefined, str2: undefined, str3: undefined, int1: 0, int2: 0, net: undefined });
          body = w.toBuffer();
        }
        setTimeout(() => sock.write(encodeMessage(reply, body)), a.delayMs ?? 0);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  // closing the stand-in drops its connections too, so no test waits on a client left open
  const stop = () => {
    for (const s of open) s.destroy();
    server.close();
  };
  return { path, server: { close: stop }, calls };
}

const authList = (...types: number[]) => new XdrWriter().array(types, (w, t) => w.int(t)).toBuffer();
const int = (v: number) => new XdrWriter().int(v).toBuffer();

test('socket paths: libvirtd\'s for system URIs, the modular daemon\'s when only it exists, ?socket= wins, remote URIs are refused', () => {
  assert.equal(socketPathForUri('qemu:///system', () => true), '/var/run/libvirt/libvirt-sock');
  assert.equal(socketPathForUri('qemu+unix:///system', () => true), '/var/run/libvirt/libvirt-sock');
  assert.equal(
    socketPathForUri('qemu:///system', (p) => p.endsWith('virtqemud-sock')),
    '/var/run/libvirt/virtqemud-sock',
  );
  assert.equal(socketPathForUri('qemu:///system?socket=/tmp/x.sock'), '/tmp/x.sock');
  for (const uri of ['qemu+ssh://host/system', 'qemu:///session', 'nonsense']) {
    assert.throws(
      () => socketPathForUri(uri, () => true),
      (e: unknown) => e instanceof LibvirtError && e.code === VIR_ERR.NO_SUPPORT,
      uri,
    );
  }
});

test('polkit auth, then open with the URI; calls in flight at once are matched by serial, replies out of order', async () => {
  const d = await fakeDaemon((proc, payload) => {
    if (proc === PROC.AUTH_LIST) return { payload: authList(AUTH.POLKIT) };
    if (proc === PROC.AUTH_POLKIT) return { payload: int(1) };
    if (proc !== PROC.DOMAIN_GET_STATE) return {};
    // the echo procedure of this stand-in: answer the int sent, later for smaller ones
    const v = new XdrReader(payload).int();
    return { payload: int(v * 10), delayMs: 50 - v * 10 };
  });
  try {
    const c = new RpcClient('qemu:///system', d.path);
    const replies = await Promise.all([1, 2, 3, 4].map((v) => c.call(PROC.DOMAIN_GET_STATE, int(v))));
    assert.deepEqual(
      replies.map((b) => new XdrReader(b).int()),
      [10, 20, 30, 40],
    );
    assert.deepEqual(
      d.calls.slice(0, 3).map((x) => x.proc),
      [PROC.AUTH_LIST, PROC.AUTH_POLKIT, PROC.CONNECT_OPEN],
    );
    const openArgs = new XdrReader(d.calls[2]!.payload);
    assert.equal(readOptString(openArgs), 'qemu:///system');
    assert.equal(openArgs.uint(), 0);
    // every serial distinct
    assert.equal(new Set(d.calls.map((x) => x.serial)).size, d.calls.length);
    await c.close();
    assert.equal(d.calls.at(-1)!.proc, PROC.CONNECT_CLOSE);
  } finally {
    d.server.close();
  }
});

test('no polkit step when the daemon needs no auth (root)', async () => {
  const d = await fakeDaemon((proc) => (proc === PROC.AUTH_LIST ? { payload: authList(AUTH.NONE) } : {}));
  try {
    const c = new RpcClient('qemu:///system', d.path);
    await c.open();
    assert.deepEqual(
      d.calls.map((x) => x.proc),
      [PROC.AUTH_LIST, PROC.CONNECT_OPEN],
    );
    await c.close();
  } finally {
    d.server.close();
  }
});

test("an error reply is libvirt's error; the connection stays usable", async () => {
  const d = await fakeDaemon((proc) => {
    if (proc === PROC.AUTH_LIST) return { payload: authList(AUTH.NONE) };
    if (proc === PROC.DOMAIN_LOOKUP_BY_NAME) return { error: { code: VIR_ERR.NO_DOMAIN, domain: VIR_FROM.QEMU, message: "Domain not found: no domain with matching name 'x'" } };
    return { payload: int(7) };
  });
  try {
    const c = new RpcClient('qemu:///system', d.path);
    const err = await c.call(PROC.DOMAIN_LOOKUP_BY_NAME).catch((e: unknown) => e);
    assert.ok(err instanceof LibvirtError && isNoDomain(err) && err.domain === VIR_FROM.QEMU, String(err));
    assert.equal(new XdrReader(await c.call(PROC.DOMAIN_GET_STATE)).int(), 7);
    await c.close();
  } finally {
    d.server.close();
  }
});

test('a refused polkit check fails the call with the auth error, and a later call tries again', async () => {
  let refuse = true;
  const d = await fakeDaemon((proc) => {
    if (proc === PROC.AUTH_LIST) return { payload: authList(AUTH.POLKIT) };
    if (proc === PROC.AUTH_POLKIT) return refuse ? { error: { code: VIR_ERR.AUTH_FAILED, domain: VIR_FROM.POLKIT, message: 'authentication failed: access denied by policy' } } : { payload: int(1) };
    return {};
  });
  try {
    const c = new RpcClient('qemu:///system', d.path);
    const err = await c.open().catch((e: unknown) => e);
    assert.ok(isAuthFailure(err), String(err));
    refuse = false;
    await c.open();
    await c.close();
  } finally {
    d.server.close();
  }
});

test('a daemon that hangs up fails the pending calls with NO_CONNECT; a missing socket is NO_CONNECT', async () => {
  const d = await fakeDaemon((proc) => (proc === PROC.AUTH_LIST ? { payload: authList(AUTH.NONE) } : proc === PROC.CONNECT_OPEN ? {} : 'hang-up'));
  try {
    const c = new RpcClient('qemu:///system', d.path);
    const errs = await Promise.all([c.call(PROC.DOMAIN_GET_STATE).catch((e: unknown) => e), c.call(PROC.DOMAIN_GET_STATE).catch((e: unknown) => e)]);
    for (const e of errs) assert.ok(isNoConnect(e), String(e));
  } finally {
    d.server.close();
  }
  const missing = await new RpcClient('qemu:///system', join(dir, 'nobody-listens')).call(PROC.CONNECT_GET_LIB_VERSION).catch((e: unknown) => e);
  assert.ok(isNoConnect(missing) && /nobody-listens/.test(String(missing)), String(missing));
});

test('a reply that is not XDR of the protocol breaks the connection with an internal error, not a hang', async () => {
  const path = join(dir, `sock-${n++}`);
  const server = createServer((sock) => sock.on('data', () => sock.end(Buffer.from('00000004', 'hex'))));
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const err = await new RpcClient('qemu:///system', path).open().catch((e: unknown) => e);
    assert.ok(err instanceof LibvirtError && err.code === VIR_ERR.INTERNAL_ERROR, String(err));
  } finally {
    server.close();
  }
  // (the program number is checked: a foreign program's reply is not taken for ours)
  assert.equal(REMOTE_PROGRAM, 0x20008086);
});

test('an idle connection is closed (CONNECT_CLOSE, then end of stream); the next call opens a new one', async () => {
  let connections = 0;
  const d = await fakeDaemon((proc) => {
    if (proc === PROC.AUTH_LIST) connections++;
    return proc === PROC.AUTH_LIST ? { payload: authList(AUTH.NONE) } : proc === PROC.DOMAIN_GET_STATE ? { payload: int(1) } : {};
  });
  try {
    const c = new RpcClient('qemu:///system', d.path, 50);
    await c.call(PROC.DOMAIN_GET_STATE);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(d.calls.at(-1)!.proc, PROC.CONNECT_CLOSE);
    await c.call(PROC.DOMAIN_GET_STATE);
    assert.equal(connections, 2);
    await c.close();
  } finally {
    d.server.close();
  }
});
