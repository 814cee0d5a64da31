// The worker's line protocol, parent and child wired together in this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import type { ChildStream, StreamOpener } from '../../host/runner.ts';
import { isNoDomain, LibvirtError, VIR_ERR, VIR_FROM } from '../hypervisor.ts';
import type { RpcTransport } from './client.ts';
import { runRpcWorker, WORKER_COMMAND, workerEntry, WorkerRpcClient } from './worker.ts';

class Echo implements RpcTransport {
  readonly uri = 'qemu:///system';
  closed = 0;
  call(proc: number, payload?: Buffer): Promise<Buffer> {
    if (proc === 23) return Promise.reject(new LibvirtError(VIR_ERR.NO_DOMAIN, 'Domain not found', { domain: VIR_FROM.QEMU }));
    return Promise.resolve(Buffer.concat([Buffer.from([proc]), payload ?? Buffer.alloc(0)]));
  }
  close(): Promise<void> {
    this.closed++;
    return Promise.resolve();
  }
}

/** An opener whose "child" is runRpcWorker in this process; it records the argv it was given. */
function inProcessOpener(transport: RpcTransport, argvs: string[][]): StreamOpener {
  return (argv) => {
    argvs.push(argv);
    const toChild = new PassThrough();
    const fromChild = new PassThrough();
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        toChild.write(chunk, cb);
      },
      final(cb) {
        toChild.end();
        cb();
      },
    });
    fromChild.on('data', (d: Buffer) => stream.push(d));
    const exited: ChildStream['exited'] = runRpcWorker(argv.at(-1)!, toChild, fromChild, transport).then(() => {
      stream.push(null);
      return { code: 0, stderr: '' };
    });
    return { stream, exited };
  };
}

test('calls go through the worker and come back matched; errors keep libvirt code and domain', async () => {
  const echo = new Echo();
  const argvs: string[][] = [];
  const c = new WorkerRpcClient('qemu:///system', inProcessOpener(echo, argvs), ['node', 'raptor.mjs']);
  const [a, b] = await Promise.all([c.call(7, Buffer.from([1, 2])), c.call(9)]);
  assert.deepEqual([...a], [7, 1, 2]);
  assert.deepEqual([...b], [9]);
  const err = await c.call(23).catch((e: unknown) => e);
  assert.ok(err instanceof LibvirtError && isNoDomain(err) && err.domain === VIR_FROM.QEMU, String(err));
  assert.deepEqual(argvs[0], ['node', 'raptor.mjs', WORKER_COMMAND, 'qemu:///system']);
  await c.close();
  assert.equal(echo.closed, 1, "the worker closed its libvirt connection when its input ended");
});

test('an idle worker ends on its own, and the next call starts another', async () => {
  const echo = new Echo();
  const argvs: string[][] = [];
  const c = new WorkerRpcClient('qemu:///system', inProcessOpener(echo, argvs), ['node', 'raptor.mjs']);
  await c.call(1);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(echo.closed, 1);
  await c.call(2);
  assert.equal(argvs.length, 2);
  await c.close();
});

test('the child answers a line that is not a call with an error line, and goes on', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  let out = '';
  output.on('data', (d: Buffer) => (out += d.toString()));
  const done = runRpcWorker('qemu:///system', input, output, new Echo());
  input.write('not json\n{"id":"x","proc":1}\n{"id":4,"proc":5,"payload":"AQ=="}\n');
  input.end();
  await done;
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { id: number; payload?: string; error?: { code: number } });
  assert.equal(lines.length, 3);
  assert.deepEqual(lines.slice(0, 2).map((l) => [l.id, l.error?.code]), [
    [-1, VIR_ERR.INTERNAL_ERROR],
    [-1, VIR_ERR.INTERNAL_ERROR],
  ]);
  assert.deepEqual(lines[2], { id: 4, payload: Buffer.from([5, 1]).toString('base64') });
});

test('a worker that dies fails the pending calls with NO_CONNECT', async () => {
  const opener: StreamOpener = () => {
    // takes the call and never answers: the child is gone
    const stream = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    return { stream, exited: new Promise((r) => setTimeout(() => r({ code: 1, stderr: 'setpriv: bad uid\n' }), 20)) };
  };
  const err = await new WorkerRpcClient('qemu:///system', opener, ['x']).call(1).catch((e: unknown) => e);
  assert.ok(err instanceof LibvirtError && err.code === VIR_ERR.NO_CONNECT && /setpriv: bad uid/.test(err.message), String(err));
});

test("the worker is this raptor: the bundle's entry beside its chunks, or the source entry through tsx", () => {
  assert.deepEqual(workerEntry('/opt/raptor/dist/chunks/app-X1.mjs'), [process.execPath, '/opt/raptor/dist/raptor.mjs']);
  assert.deepEqual(workerEntry('/opt/raptor/dist/raptor.mjs'), [process.execPath, '/opt/raptor/dist/raptor.mjs']);
  assert.deepEqual(workerEntry('/w/src/libvirt/rpc/worker.ts'), [process.execPath, '--import', 'tsx', '/w/src/cli/main.ts']);
});
