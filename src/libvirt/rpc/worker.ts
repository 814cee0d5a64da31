// libvirt judges a connection by the process that opened it (polkit asks about its uid), so a
// connection for another user is opened by a child running as that user. The child is raptor
// itself (`raptor __libvirt-rpc-worker URI`), started through setpriv; parent and child speak
// newline-delimited JSON over its stdin/stdout, one line per call and one per reply:
//   parent → child  {"id":1,"proc":23,"payload":"<base64 XDR>"}
//   child → parent  {"id":1,"payload":"<base64 XDR>"}  or  {"id":1,"error":{"code":42,"domain":10,"message":"…"}}
// The child only relays procedure calls: the parent encodes and decodes every structure.
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import type { StreamOpener } from '../../host/runner.ts';
import { libvirtErrorOf, LibvirtError, VIR_ERR, VIR_FROM } from '../hypervisor.ts';
import { RpcClient, type RpcTransport } from './client.ts';

/** The hidden command line the child runs under. */
export const WORKER_COMMAND = '__libvirt-rpc-worker';

interface CallLine {
  id: number;
  proc: number;
  payload?: string;
}

interface ReplyLine {
  id: number;
  payload?: string;
  error?: { code: number | undefined; domain: number; message: string };
}

/** The child's loop: relay each call line to libvirt on its own connection; stdin's end closes it. */
export async function runRpcWorker(uri: string, input: Readable = process.stdin, output: Writable = process.stdout, client: RpcTransport = new RpcClient(uri)): Promise<void> {
  const send = (line: ReplyLine): void => void output.write(`${JSON.stringify(line)}\n`);
  const inFlight = new Set<Promise<void>>();
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    if (!text.trim()) continue;
    let call: CallLine;
    try {
      call = JSON.parse(text) as CallLine;
      if (!Number.isInteger(call.id) || !Number.isInteger(call.proc)) throw new Error('id and proc must be integers');
    } catch (err) {
      send({ id: -1, error: { code: VIR_ERR.INTERNAL_ERROR, domain: VIR_FROM.RPC, message: `bad worker call: ${(err as Error).message}` } });
      continue;
    }
    const p = client
      .call(call.proc, call.payload ? Buffer.from(call.payload, 'base64') : undefined)
      .then(
        (payload) => send({ id: call.id, payload: payload.toString('base64') }),
        (err: unknown) => {
          const le = libvirtErrorOf(err);
          send({ id: call.id, error: { code: le?.code ?? VIR_ERR.INTERNAL_ERROR, domain: le?.domain ?? VIR_FROM.RPC, message: err instanceof Error ? err.message : String(err) } });
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  await client.close();
}

/**
 * The argv that starts the worker: this same raptor, found from this module's own file (not
 * process.argv, which under a test runner or a wrapper names another script): the bundle's
 * entry next to its chunks, or the source entry through tsx.
 */
export function workerEntry(here: string = fileURLToPath(import.meta.url)): string[] {
  if (here.endsWith('.ts')) return [process.execPath, '--import', 'tsx', join(dirname(here), '..', '..', 'cli', 'main.ts')];
  const dir = dirname(here);
  return [process.execPath, basename(dir) === 'chunks' ? join(dir, '..', 'raptor.mjs') : join(dir, 'raptor.mjs')];
}

/** How long an idle worker is kept for the next call (one operation's calls follow each other within microseconds). */
const IDLE_MS = 100;

/**
 * The parent's side: a transport whose calls run in the worker (so as the user the opener starts
 * it as). The worker is started on the first call and ended once no call is pending for IDLE_MS,
 * so nothing outlives an operation and a CLI exits when its work is done.
 */
export class WorkerRpcClient implements RpcTransport {
  private child: ReturnType<StreamOpener> | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: unknown) => void }>();
  private idle: NodeJS.Timeout | undefined;

  constructor(
    readonly uri: string,
    private readonly open: StreamOpener,
    private readonly entry: string[] = workerEntry(),
  ) {}

  private start(): ReturnType<StreamOpener> {
    if (this.child) return this.child;
    const child = this.open([...this.entry, WORKER_COMMAND, this.uri]);
    this.child = child;
    const fail = (message: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      const err = new LibvirtError(VIR_ERR.NO_CONNECT, message, { domain: VIR_FROM.RPC });
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      child.stream.destroy();
    };
    createInterface({ input: child.stream, crlfDelay: Infinity }).on('line', (text) => {
      let reply: ReplyLine;
      try {
        reply = JSON.parse(text) as ReplyLine;
      } catch {
        return fail(`libvirt rpc worker said something unreadable: ${text.slice(0, 200)}`);
      }
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (!this.pending.size) this.idle = setTimeout(() => void this.close(), IDLE_MS);
      if (reply.error) p.reject(new LibvirtError(reply.error.code, reply.error.message, { domain: reply.error.domain }));
      else p.resolve(Buffer.from(reply.payload ?? '', 'base64'));
    });
    child.stream.on('error', (err) => fail(`libvirt rpc worker: ${err.message}`));
    void child.exited.then(({ code, stderr }) => fail(`libvirt rpc worker ended (exit ${code ?? 'signal'})${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`));
    return child;
  }

  call(proc: number, payload?: Buffer): Promise<Buffer> {
    clearTimeout(this.idle);
    const child = this.start();
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.stream.write(`${JSON.stringify({ id, proc, ...(payload?.length ? { payload: payload.toString('base64') } : {}) } satisfies CallLine)}\n`);
    });
  }

  /** End the worker: it closes its libvirt connection when its stdin ends. */
  async close(): Promise<void> {
    clearTimeout(this.idle);
    const child = this.child;
    if (!child || this.pending.size) return;
    this.child = undefined;
    child.stream.end();
    await child.exited;
  }
}
