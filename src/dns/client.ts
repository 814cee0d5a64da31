// The DNS client: queries and RFC 2136 updates over TCP, signed with TSIG when a key is given.
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import { RaptorError, type ErrorKind } from '../core/errors.ts';
import { signMessage, verifyResponse, type TsigKey } from './tsig.ts';
import {
  CLASS,
  MalformedMessage,
  OPCODE,
  RCODE,
  TYPE,
  decodeMessage,
  effectiveRcode,
  emptyMessage,
  encodeMessage,
  normalizeName,
  rcodeName,
  sameName,
  updateMessage,
  type DecodedMessage,
  type Rdata,
  type UpdateRequest,
} from './wire.ts';

export type { Addition, Deletion, Prerequisite, UpdateRequest } from './wire.ts';

export type QueryType = 'A' | 'AAAA' | 'PTR' | 'SOA' | 'NS' | 'TXT' | 'CNAME' | 'ANY';

/** An answer record: owner name (normalized), type, TTL and rdata. */
export interface DnsRecord {
  name: string;
  type: number;
  ttl: number;
  rdata: Rdata;
}

/** What the record service needs from a DNS server; DnsClient is the one real implementation. */
export interface DnsTransport {
  readonly endpoint: string;
  query(name: string, type: QueryType): Promise<DnsRecord[]>;
  update(zone: string, request: UpdateRequest): Promise<void>;
}

export interface DnsClientOptions {
  server: string;
  port: number;
  key?: TsigKey;
  timeoutMs?: number;
  /** seconds since the epoch; tests pin it */
  now?: () => number;
}

export const DEFAULT_TIMEOUT_MS = 5000;

/** A RaptorError from a DNS exchange; `rcode` is the server's answer, when there was one. */
export class DnsError extends RaptorError {
  readonly rcode: number | undefined;
  constructor(kind: ErrorKind, message: string, rcode?: number, options?: { cause?: unknown }) {
    super(kind, message, options);
    this.rcode = rcode;
  }
}

/** How a failing rcode is reported: its error kind and the words after "… at SERVER". */
function rcodeFailure(rcode: number, keyName = ''): { kind: ErrorKind; words: string } {
  switch (rcode) {
    case RCODE.REFUSED:
      return { kind: 'not-allowed', words: 'refused' };
    case RCODE.NOTAUTH:
      return { kind: 'not-allowed', words: 'not served: the server is not authoritative for it' };
    case RCODE.NOTZONE:
      return { kind: 'bad-input', words: 'rejected: a name is outside the zone' };
    case RCODE.BADSIG:
    case RCODE.BADKEY:
      return { kind: 'not-allowed', words: `rejected: the server does not accept the TSIG key${keyName && ` ${keyName}`}` };
    case RCODE.BADTIME:
      return { kind: 'not-allowed', words: 'rejected: our clock and the server clock differ by more than the TSIG fudge' };
    case RCODE.YXDOMAIN:
    case RCODE.YXRRSET:
    case RCODE.NXDOMAIN:
    case RCODE.NXRRSET:
      return { kind: 'conflict', words: 'not applied: the records changed since they were read' };
    case RCODE.FORMERR:
      return { kind: 'unexpected', words: 'rejected as malformed' };
    case RCODE.NOTIMP:
      return { kind: 'unexpected', words: 'not supported by the server' };
    default:
      return { kind: 'unexpected', words: 'failed' };
  }
}

export class DnsClient implements DnsTransport {
  readonly server: string;
  readonly port: number;
  readonly endpoint: string;
  readonly #key: TsigKey | undefined;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(opts: DnsClientOptions) {
    this.server = opts.server;
    this.port = opts.port;
    this.endpoint = opts.server.includes(':') ? `[${opts.server}]:${opts.port}` : `${opts.server}:${opts.port}`;
    this.#key = opts.key;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#now = opts.now ?? (() => Date.now() / 1000);
  }

  /** The answer records at `name` of `type` (or a CNAME there); [] for NXDOMAIN and no data. */
  async query(name: string, type: QueryType): Promise<DnsRecord[]> {
    const subject = `query for ${normalizeName(name)} ${type}`;
    const what = `DNS ${subject} at ${this.endpoint}`;
    const msg = emptyMessage(randomInt(0x10000), OPCODE.QUERY);
    msg.questions.push({ name: normalizeName(name), type: TYPE[type], class: CLASS.IN });
    const reply = await this.#exchange(encodeMessage(msg), subject);
    const rcode = effectiveRcode(reply);
    if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) {
      const f = rcodeFailure(rcode, this.#key?.name);
      const words = rcode === RCODE.NOTAUTH || rcode === RCODE.REFUSED ? `refused: no zone for ${normalizeName(name)} served there or not allowed` : f.words;
      throw new DnsError(rcode === RCODE.NOTAUTH ? 'not-allowed' : f.kind, `${what} ${words} (${rcodeName(rcode)})`, rcode);
    }
    const out: DnsRecord[] = [];
    for (const rr of reply.answers) {
      if (rr.rdata === null || rr.class !== CLASS.IN || !sameName(rr.name, name)) continue;
      // a CNAME at the name answers every type; callers must see it (it blocks A/AAAA)
      if (type !== 'ANY' && rr.type !== TYPE[type] && rr.type !== TYPE.CNAME) continue;
      out.push({ name: normalizeName(rr.name), type: rr.type, ttl: rr.ttl, rdata: rr.rdata });
    }
    return out;
  }

  /** Send one RFC 2136 UPDATE of `zone`; resolves when the server answered NOERROR. */
  async update(zone: string, request: UpdateRequest): Promise<void> {
    const z = normalizeName(zone);
    const subject = `update of zone ${z}`;
    const what = `DNS ${subject} at ${this.endpoint}`;
    const msg = updateMessage(randomInt(0x10000), z, request);
    const reply = await this.#exchange(encodeMessage(msg), subject);
    const rcode = effectiveRcode(reply);
    if (rcode === RCODE.NOERROR) return;
    const f = rcodeFailure(rcode, this.#key?.name);
    let words = f.words;
    let kind = f.kind;
    if (rcode === RCODE.NOTAUTH) {
      // BIND says NOTAUTH for a zone it does not serve; Knot also for an update its ACL denies
      const served = await this.#servesZone(z);
      words = served ? `refused: the server serves zone ${z} but does not allow this update` : `refused: zone ${z} is not served there`;
      // a zone the server does not serve is a configuration conflict (3), not a permission (5)
      if (!served) kind = 'conflict';
    }
    throw new DnsError(kind, `${what} ${words} (${rcodeName(rcode)})`, rcode);
  }

  async #servesZone(zone: string): Promise<boolean> {
    try {
      const soa = await this.query(zone, 'SOA');
      return soa.some((r) => r.type === TYPE.SOA);
    } catch {
      return false;
    }
  }

  /** Send one message over a fresh TCP connection and return the verified reply. */
  async #exchange(unsigned: Uint8Array, subject: string): Promise<DecodedMessage> {
    const what = `DNS ${subject} at ${this.endpoint}`;
    const key = this.#key;
    const signed = key ? signMessage(unsigned, key, this.#now()) : { bytes: unsigned, mac: new Uint8Array(0) };
    const raw = await this.#roundTrip(signed.bytes, subject);
    let reply: DecodedMessage;
    try {
      reply = decodeMessage(raw);
    } catch (err) {
      if (err instanceof MalformedMessage) throw new DnsError('unexpected', `${what}: ${err.message}`);
      throw err;
    }
    const id = (unsigned[0]! << 8) | unsigned[1]!;
    if (reply.id !== id || !reply.qr) throw new DnsError('unexpected', `${what}: the reply does not answer our request (id ${reply.id}, expected ${id})`);
    if (!key) return reply;
    const check = verifyResponse(raw, reply, signed.mac, key, this.#now());
    if (check.ok) return reply;
    switch (check.reason) {
      case 'server-rejected':
        return reply; // the caller reports the TSIG error via effectiveRcode
      case 'unsigned': {
        // An unsigned failure cannot make us believe a change happened, so report the rcode;
        // an unsigned success could be forged, so it is an error.
        const rcode = effectiveRcode(reply);
        if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return reply;
        throw new DnsError('not-allowed', `${what}: the reply is not signed, though the request was signed with TSIG key ${key.name}`);
      }
      default:
        throw new DnsError('not-allowed', `${what}: the reply's TSIG signature is not valid (${check.reason}: ${check.detail})`);
    }
  }

  #roundTrip(message: Uint8Array, subject: string): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.server, port: this.port });
      let settled = false;
      let buffered = Buffer.alloc(0);
      const finish = (err: RaptorError | undefined, value?: Uint8Array) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(value!);
      };
      const timer = setTimeout(() => {
        finish(new DnsError('unexpected', `DNS server ${this.endpoint} did not answer within ${this.#timeoutMs} ms, during ${subject}`));
      }, this.#timeoutMs);
      socket.on('connect', () => {
        const frame = Buffer.alloc(2 + message.length);
        frame.writeUInt16BE(message.length, 0);
        frame.set(message, 2);
        socket.write(frame);
      });
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length < 2) return;
        const len = buffered.readUInt16BE(0);
        if (buffered.length >= 2 + len) finish(undefined, new Uint8Array(buffered.subarray(2, 2 + len)));
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? err.message;
        finish(new DnsError('unexpected', `DNS server ${this.endpoint} unreachable (${code}), during ${subject}`, undefined, { cause: err }));
      });
      socket.on('close', () => {
        finish(new DnsError('unexpected', `DNS server ${this.endpoint} closed the connection without answering, during ${subject}`));
      });
    });
  }
}

