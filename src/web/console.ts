// The console in the browser: `GET /api/v1/vms/{id}/console` upgraded to a WebSocket (the `ws`
// package, pure JavaScript) carrying the console's bytes both ways as binary frames. Every upgrade
// is judged before it is accepted (Host, Origin, credentials, the VM), one console session per VM
// is shared by its viewers with a bounded scrollback, and it ends a short grace after the last
// viewer left. The console is opened as the signed-in user, so libvirt's polkit rules decide.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Actor } from '../core/actor.ts';
import { badInput, notAllowed, notFound, RaptorError } from '../core/errors.ts';
import { domainName, parseVmId, type VmId } from '../core/naming.ts';
import { allowedOrigins, authenticate, type AppDeps, type Signed } from './app.ts';
import { errorBody } from './errors.ts';

export interface ConsoleLimits {
  /** viewers of one VM's console at once */
  viewersPerVm: number;
  /** console sessions (VMs) open at once */
  sessions: number;
  /** bytes of recent output kept per VM and replayed to a viewer who joins */
  scrollbackBytes: number;
  /** largest frame a viewer may send (keystrokes and pastes) */
  maxFrameBytes: number;
  /** how long a console stays open after its last viewer left (a reload reconnects to it) */
  graceMs: number;
  /** how often a viewer's credentials are checked again and the connection pinged */
  recheckMs: number;
  /** output queued for a viewer who does not read; past it the viewer is cut off, not the others */
  maxBufferedBytes: number;
}

export const CONSOLE_LIMITS: ConsoleLimits = {
  viewersPerVm: 8,
  sessions: 64,
  scrollbackBytes: 256 * 1024,
  maxFrameBytes: 64 * 1024,
  graceMs: 5000,
  recheckMs: 30_000,
  maxBufferedBytes: 4 * 1024 * 1024,
};

/** How the server reaches a console: as the actor, so a VM they may not see is not found. */
export interface ConsoleOpener {
  open(actor: Actor, vm: VmId): Promise<Duplex>;
  /** not found unless the actor may see the VM (each viewer who joins a console someone else opened) */
  check(actor: Actor, vm: VmId): Promise<void>;
}

export type ConsoleDeps = Pick<AppDeps, 'config' | 'credentials' | 'accounts'> & { consoles: ConsoleOpener; limits?: Partial<ConsoleLimits> };

const CONSOLE_PATH = /^\/api\/v1\/vms\/([^/]+)\/console$/;
const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

/** Refuse a WebSocket upgrade from a Host this server is not, or from any origin but its own (a missing Origin too). */
export function checkUpgradeOrigin(allowed: ReturnType<typeof allowedOrigins>, host: string | undefined, origin: string | undefined): void {
  if (!host || !allowed.hosts.has(host.toLowerCase())) throw notAllowed(`this server does not answer to Host ${JSON.stringify(host ?? '')}: set web.public_url to the address users open`);
  // browsers always send Origin on a WebSocket; a page of another site (or a rebound name) shows its own
  if (origin === undefined) throw notAllowed('a console WebSocket must carry the Origin of this server');
  if (!allowed.origins.has(origin.toLowerCase())) throw notAllowed(`cross-site WebSocket refused (Origin ${JSON.stringify(origin)})`);
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 500: 'Internal Server Error' };

/** Answer an upgrade with an HTTP error (before any WebSocket exists) and close the connection. */
function refuse(socket: Duplex, err: unknown): void {
  const { status, body } = errorBody(err);
  if (status === 500) process.stderr.write(`raptor serve: console: ${body.error.message}\n`);
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${text}`,
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}

const asBuffer = (d: RawData): Buffer => (Buffer.isBuffer(d) ? d : Array.isArray(d) ? Buffer.concat(d) : Buffer.from(d));

/** One VM's console, shared by its viewers. */
class ConsoleSession {
  readonly viewers = new Set<WebSocket>();
  /** viewers admitted whose handshake has not finished yet */
  pending = 0;
  private chunks: Buffer[] = [];
  private bytes = 0;
  private stream: Duplex | undefined;
  private grace: NodeJS.Timeout | undefined;
  private closed = false;
  readonly ready: Promise<void>;

  constructor(
    readonly name: string,
    private readonly limits: ConsoleLimits,
    opening: Promise<Duplex>,
    private readonly onClosed: (s: ConsoleSession) => void,
  ) {
    this.ready = opening.then((stream) => {
      if (this.closed) {
        stream.destroy();
        throw new RaptorError('conflict', `the console of ${name} was closed while it opened`);
      }
      this.stream = stream;
      stream.on('data', (d: Buffer) => this.output(d));
      stream.on('error', () => this.close(1011, 'console failed'));
      stream.on('close', () => this.close(1000, 'console closed'));
      stream.on('end', () => this.close(1000, 'console closed'));
    });
    this.ready.catch(() => this.close(1011, 'console did not open'));
  }

  get size(): number {
    return this.viewers.size + this.pending;
  }

  private output(d: Buffer): void {
    this.chunks.push(d);
    this.bytes += d.length;
    while (this.bytes > this.limits.scrollbackBytes && this.chunks.length) {
      const first = this.chunks[0]!;
      const over = this.bytes - this.limits.scrollbackBytes;
      if (first.length <= over) {
        this.chunks.shift();
        this.bytes -= first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.bytes -= over;
      }
    }
    for (const ws of this.viewers) {
      // one viewer who stops reading must not hold the others' output (nor the server's memory)
      if (ws.bufferedAmount > this.limits.maxBufferedBytes) ws.terminate();
      else ws.send(d, { binary: true });
    }
  }

  add(ws: WebSocket, recheck: () => boolean): void {
    this.pending--;
    if (this.closed || !this.stream) {
      ws.close(1011, 'console closed');
      return;
    }
    clearTimeout(this.grace);
    this.grace = undefined;
    this.viewers.add(ws);
    if (this.bytes) ws.send(Buffer.concat(this.chunks), { binary: true });
    let alive = true;
    ws.on('pong', () => (alive = true));
    const timer = setInterval(() => {
      // a credential revoked (logout, left vm-users) or a peer gone quiet ends this viewer
      if (!recheck()) return ws.close(4401, 'signed out');
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }, this.limits.recheckMs);
    ws.on('message', (data) => {
      if (!this.closed) this.stream?.write(asBuffer(data));
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      clearInterval(timer);
      this.viewers.delete(ws);
      this.maybeIdle();
    });
  }

  /** A handshake that never completed gives its place back. */
  abandon(): void {
    this.pending--;
    this.maybeIdle();
  }

  private maybeIdle(): void {
    if (this.size > 0 || this.closed) return;
    clearTimeout(this.grace);
    this.grace = setTimeout(() => this.close(1000, 'no viewers'), this.limits.graceMs);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.grace);
    this.stream?.destroy();
    for (const ws of this.viewers) ws.close(code, reason);
    this.viewers.clear();
    this.onClosed(this);
  }
}

/** The console sessions of one server, and its upgrade handler. */
export class ConsoleHub {
  readonly sessions = new Map<string, ConsoleSession>();
  private readonly limits: ConsoleLimits;
  private readonly wss: WebSocketServer;
  private readonly allowed: ReturnType<typeof allowedOrigins>;

  constructor(private readonly deps: ConsoleDeps) {
    this.limits = { ...CONSOLE_LIMITS, ...deps.limits };
    this.allowed = allowedOrigins(deps.config);
    // no per-message compression: console bytes are small, and inflating is a memory bomb to guard
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
  }

  /** Judge an upgrade: 4xx before any WebSocket exists, else a viewer of the VM's console. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    let session: ConsoleSession | undefined;
    let signed: Signed;
    try {
      const path = (req.url ?? '/').split('?')[0]!;
      const m = CONSOLE_PATH.exec(path);
      if (!m) throw notFound(`no WebSocket at ${path}: the console is /api/v1/vms/{id}/console`);
      checkUpgradeOrigin(this.allowed, req.headers.host, req.headers.origin);
      if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') throw badInput('a console upgrade is a GET with Upgrade: websocket');
      if (!WS_KEY.test(req.headers['sec-websocket-key'] ?? '') || req.headers['sec-websocket-version'] !== '13') throw badInput('not a WebSocket handshake (Sec-WebSocket-Key, Sec-WebSocket-Version 13)');
      const headers = { authorization: req.headers.authorization, cookie: req.headers.cookie };
      signed = authenticate(this.deps, headers);
      let id: string;
      try {
        id = decodeURIComponent(m[1]!);
      } catch {
        throw badInput('the VM id in the path is not valid percent-encoding');
      }
      const vm = parseVmId(id);
      // another user's VM is not found, as in the API, before libvirt is asked
      if (!signed.admin && vm.user !== signed.actor.user) throw notFound(`VM ${domainName(vm)} not found`);
      session = await this.join(signed.actor, vm);
      const admitted = session;
      let done = false;
      socket.once('close', () => {
        if (!done) admitted.abandon();
      });
      const recheck = () => {
        try {
          authenticate(this.deps, headers);
          return true;
        } catch {
          return false;
        }
      };
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        done = true;
        admitted.add(ws, recheck);
      });
    } catch (err) {
      refuse(socket, err);
    }
  }

  /** A place among the VM's viewers; opens its console as this actor if no one has it open. */
  private async join(actor: Actor, vm: VmId): Promise<ConsoleSession> {
    const name = domainName(vm);
    const existing = this.sessions.get(name);
    if (existing) {
      if (existing.size >= this.limits.viewersPerVm) throw new RaptorError('conflict', `the console of ${name} has ${this.limits.viewersPerVm} viewers already`);
      existing.pending++;
      try {
        // the console was opened as someone else: this viewer must be allowed to see the VM too
        await this.deps.consoles.check(actor, vm);
        await existing.ready;
      } catch (err) {
        existing.abandon();
        throw err;
      }
      return existing;
    }
    if (this.sessions.size >= this.limits.sessions) throw new RaptorError('conflict', `${this.limits.sessions} consoles are open on this server already`);
    const session = new ConsoleSession(name, this.limits, this.deps.consoles.open(actor, vm), (s) => {
      if (this.sessions.get(s.name) === s) this.sessions.delete(s.name);
    });
    session.pending++;
    this.sessions.set(name, session);
    try {
      await session.ready;
    } catch (err) {
      session.abandon();
      throw err;
    }
    return session;
  }

  close(): void {
    for (const s of [...this.sessions.values()]) s.close(1001, 'server stopping');
  }
}

/** Take the server's `upgrade` requests: the console is the only WebSocket. */
export function attachConsoles(server: Server, deps: ConsoleDeps): ConsoleHub {
  const hub = new ConsoleHub(deps);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void hub.handleUpgrade(req, socket, head));
  return hub;
}
