// A client of libvirt's remote protocol on the daemon's Unix socket. Calls carry a serial and
// replies are matched by it, so many calls can be in flight on one connection. The socket only
// keeps the process alive while calls are pending: a CLI exits when its work is done.
import { existsSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { LibvirtError, VIR_ERR, VIR_FROM } from '../hypervisor.ts';
import { AUTH, AUTH_TYPE_LIST_MAX, decodeMessage, encodeCall, libvirtErrorFromReply, MessageSplitter, MSG_STATUS, MSG_TYPE, PROC, REMOTE_PROGRAM, writeOptString } from './protocol.ts';
import { XdrReader, XdrWriter } from './xdr.ts';

/** Where the daemon for a local URI listens: `?socket=` when given, else libvirtd's socket (or the driver's own daemon's, on a host with modular daemons). */
export function socketPathForUri(uri: string, exists: (p: string) => boolean = existsSync): string {
  const m = /^([a-z0-9]+)(?:\+unix)?:\/\/\/(system|session)(?:\?(.*))?$/i.exec(uri);
  if (!m) throw new LibvirtError(VIR_ERR.NO_SUPPORT, `libvirt_client "rpc" supports only local URIs (driver:///system), not ${JSON.stringify(uri)}`, { domain: VIR_FROM.REMOTE });
  const [, driver, kind, query] = m as unknown as [string, string, string, string | undefined];
  const explicit = new URLSearchParams(query ?? '').get('socket');
  if (explicit) return explicit;
  if (kind !== 'system') throw new LibvirtError(VIR_ERR.NO_SUPPORT, `libvirt_client "rpc" supports only system URIs, not ${JSON.stringify(uri)}`, { domain: VIR_FROM.REMOTE });
  const monolithic = '/var/run/libvirt/libvirt-sock';
  const modular = `/var/run/libvirt/virt${driver.toLowerCase()}d-sock`;
  return !exists(monolithic) && exists(modular) ? modular : monolithic;
}

/** What RpcHypervisor calls through: a connection of this process (RpcClient) or of a worker running as another user. */
export interface RpcTransport {
  readonly uri: string;
  call(proc: number, payload?: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

/** How long an unused connection stays open for the next call. */
const IDLE_MS = 2000;

interface Pending {
  resolve: (payload: Buffer) => void;
  reject: (err: unknown) => void;
}

export class RpcClient implements RpcTransport {
  private socket: Socket | undefined;
  private connecting: Promise<void> | undefined;
  private serial = 0;
  private readonly pending = new Map<number, Pending>();
  private broken: LibvirtError | undefined;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    readonly uri: string,
    private socketPath?: string,
    private readonly idleMs: number = IDLE_MS,
  ) {}

  /** Connect, authenticate and open the URI once; later calls reuse the connection. */
  open(): Promise<void> {
    this.connecting ??= this.connectAndOpen().catch((err: unknown) => {
      this.teardown(err instanceof LibvirtError ? err : undefined);
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  private async connectAndOpen(): Promise<void> {
    await this.connectSocket();
    const types = new XdrReader(await this.rawCall(PROC.AUTH_LIST)).array((r) => r.int(), AUTH_TYPE_LIST_MAX);
    if (!types.includes(AUTH.NONE)) {
      if (!types.includes(AUTH.POLKIT)) throw new LibvirtError(VIR_ERR.AUTH_FAILED, `authentication failed: the daemon offers only ${types.join(', ')} (raptor speaks polkit)`, { domain: VIR_FROM.REMOTE });
      // libvirtd asks polkitd whether this process's uid may connect
      const complete = new XdrReader(await this.rawCall(PROC.AUTH_POLKIT)).int();
      if (!complete) throw new LibvirtError(VIR_ERR.AUTH_FAILED, 'authentication failed: polkit did not complete', { domain: VIR_FROM.REMOTE });
    }
    const args = new XdrWriter();
    writeOptString(args, this.uri);
    args.uint(0);
    await this.rawCall(PROC.CONNECT_OPEN, args.toBuffer());
  }

  private connectSocket(): Promise<void> {
    // worked out on first use: a URI this client cannot reach fails the call, not the setup
    const path = (this.socketPath ??= socketPathForUri(this.uri));
    this.broken = undefined;
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      // events of a socket given up (a failed open before a retry) no longer concern this client
      const current = () => this.socket === socket;
      const splitter = new MessageSplitter();
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', (err) => current() && this.teardown(new LibvirtError(VIR_ERR.NO_CONNECT, `libvirt connection failed: ${err.message}`, { domain: VIR_FROM.RPC, cause: err })));
        resolve();
      });
      socket.once('error', (err: NodeJS.ErrnoException) =>
        reject(new LibvirtError(VIR_ERR.NO_CONNECT, `Failed to connect socket to '${path}': ${err.code ?? err.message}`, { domain: VIR_FROM.RPC, cause: err })),
      );
      socket.on('data', (chunk: Buffer) => {
        if (!current()) return;
        try {
          for (const frame of splitter.push(chunk)) this.dispatch(frame);
        } catch (err) {
          this.teardown(new LibvirtError(VIR_ERR.INTERNAL_ERROR, `libvirt sent a malformed message: ${(err as Error).message}`, { domain: VIR_FROM.RPC, cause: err }));
        }
      });
      socket.on('close', () => current() && this.teardown(new LibvirtError(VIR_ERR.NO_CONNECT, 'the libvirt daemon closed the connection', { domain: VIR_FROM.RPC })));
      this.socket = socket;
    });
  }

  private dispatch(frame: Buffer): void {
    const { header, payload } = decodeMessage(frame);
    // events and keepalives are not asked for; stream data is not used here
    if (header.prog !== REMOTE_PROGRAM || header.type !== MSG_TYPE.REPLY) return;
    const call = this.pending.get(header.serial);
    if (!call) return;
    this.pending.delete(header.serial);
    this.refWhileBusy();
    if (header.status === MSG_STATUS.OK) call.resolve(payload);
    else {
      try {
        call.reject(libvirtErrorFromReply(payload));
      } catch (err) {
        call.reject(new LibvirtError(VIR_ERR.INTERNAL_ERROR, `libvirt sent an unreadable error: ${(err as Error).message}`, { domain: VIR_FROM.RPC, cause: err }));
      }
    }
  }

  private teardown(reason: LibvirtError | undefined): void {
    const err = reason ?? new LibvirtError(VIR_ERR.NO_CONNECT, 'libvirt connection closed', { domain: VIR_FROM.RPC });
    this.broken ??= err;
    for (const call of this.pending.values()) call.reject(err);
    this.pending.clear();
    this.socket?.destroy();
    this.socket = undefined;
  }

  /**
   * The socket holds the event loop only while replies are awaited, and an idle connection is
   * closed after IDLE_MS: a server making a context per request leaves no connection behind.
   */
  private refWhileBusy(): void {
    clearTimeout(this.idle);
    if (this.pending.size) this.socket?.ref();
    else {
      this.socket?.unref();
      this.idle = setTimeout(() => void this.close(), this.idleMs).unref();
    }
  }

  private rawCall(proc: number, payload?: Buffer): Promise<Buffer> {
    const socket = this.socket;
    if (!socket || this.broken) return Promise.reject(this.broken ?? new LibvirtError(VIR_ERR.NO_CONNECT, 'not connected to libvirt', { domain: VIR_FROM.RPC }));
    // serials wrap within an unsigned int
    this.serial = (this.serial + 1) >>> 0;
    const serial = this.serial;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(serial, { resolve, reject });
      this.refWhileBusy();
      socket.write(encodeCall(proc, serial, payload));
    });
  }

  /** A procedure call on the opened connection; its reply payload, or the LibvirtError libvirt returned. */
  async call(proc: number, payload?: Buffer): Promise<Buffer> {
    await this.open();
    return this.rawCall(proc, payload);
  }

  /**
   * Close the libvirt connection and the socket (when no call is pending). The client lets go of
   * the socket first, so a call made meanwhile opens a new connection instead of racing this one.
   */
  close(): Promise<void> {
    clearTimeout(this.idle);
    const socket = this.socket;
    if (!this.connecting || !socket || this.pending.size) return Promise.resolve();
    this.connecting = undefined;
    this.socket = undefined;
    this.serial = (this.serial + 1) >>> 0;
    // the daemon also closes on end of stream; CONNECT_CLOSE says it first, its reply is not needed
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.end(encodeCall(PROC.CONNECT_CLOSE, this.serial));
    });
  }
}
