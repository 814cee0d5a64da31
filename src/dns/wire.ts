// DNS message encoding and decoding (RFC 1035, RFC 2136, RFC 8945). Pure: bytes in, values out.
import { badInput } from '../core/errors.ts';

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  TSIG: 250,
  ANY: 255,
} as const;

export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;

export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;

/** Header rcodes and the extended ones carried in the TSIG error field. */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADSIG: 16,
  BADKEY: 17,
  BADTIME: 18,
  BADTRUNC: 22,
} as const;

const RCODE_NAMES = new Map<number, string>(Object.entries(RCODE).map(([k, v]) => [v, k]));
const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));

export const rcodeName = (rcode: number): string => RCODE_NAMES.get(rcode) ?? `RCODE${rcode}`;
export const typeName = (type: number): string => TYPE_NAMES.get(type) ?? `TYPE${type}`;

export type Rdata =
  | { type: 'A'; address: string }
  | { type: 'AAAA'; address: string }
  | { type: 'PTR' | 'NS' | 'CNAME'; target: string }
  | {
      type: 'SOA';
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    }
  | { type: 'TXT'; strings: string[] }
  | {
      type: 'TSIG';
      algorithm: string;
      timeSigned: number;
      fudge: number;
      mac: Uint8Array;
      originalId: number;
      error: number;
      other: Uint8Array;
    }
  | { type: 'raw'; bytes: Uint8Array };

/** A resource record. `rdata` is null when RDLENGTH is 0 (the "empty" RRs of RFC 2136 prerequisites and deletes). */
export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Rdata | null;
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

/** A DNS message. For UPDATE the four sections are zone, prerequisite, update and additional. */
export interface DnsMessage {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  questions: Question[];
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

/** A decoded message plus where its TSIG record starts, which TSIG verification needs. */
export interface DecodedMessage extends DnsMessage {
  tsigOffset?: number;
}

export function emptyMessage(id: number, opcode: number): DnsMessage {
  return {
    id,
    qr: false,
    opcode,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    rcode: 0,
    questions: [],
    answers: [],
    authority: [],
    additional: [],
  };
}

// ---------------------------------------------------------------- names

/** Names are kept absolute, lower case and without the trailing dot ("" is the root). */
export function normalizeName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

export const sameName = (a: string, b: string): boolean => normalizeName(a) === normalizeName(b);

/** True when `name` is `zone` or below it. */
export function isInZone(name: string, zone: string): boolean {
  const n = normalizeName(name);
  const z = normalizeName(zone);
  return z === '' || n === z || n.endsWith(`.${z}`);
}

function nameLabels(name: string): string[] {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n === '') return [];
  return n.split('.');
}

/** Uncompressed wire form of a name; `canonical` lower-cases it (RFC 4034 §6.2, used by TSIG). */
export function encodeName(name: string, canonical = false): Uint8Array {
  const out: number[] = [];
  for (const label of nameLabels(canonical ? name.toLowerCase() : name)) {
    const bytes = new TextEncoder().encode(label);
    if (bytes.length === 0 || bytes.length > 63) throw badInput(`DNS name ${JSON.stringify(name)}: label of ${bytes.length} bytes`);
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  if (out.length > 255) throw badInput(`DNS name ${JSON.stringify(name)} is longer than 255 bytes`);
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------- addresses

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function ipv4ToBytes(text: string): Uint8Array {
  if (!IPV4_RE.test(text)) throw badInput(`not an IPv4 address: ${JSON.stringify(text)}`);
  return Uint8Array.from(text.split('.').map(Number));
}

export const bytesToIpv4 = (b: Uint8Array): string => Array.from(b).join('.');

export function ipv6ToBytes(text: string): Uint8Array {
  const fail = () => badInput(`not an IPv6 address: ${JSON.stringify(text)}`);
  let s = text;
  const tail: number[] = [];
  // an embedded IPv4 tail (::ffff:198.51.100.1) becomes the last two groups
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = ipv4ToBytes(v4[2]!);
    tail.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
    s = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const parseGroups = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').map((g) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw fail();
      return parseInt(g, 16);
    });
  };
  const halves = s.split('::');
  let groups: number[];
  if (halves.length === 1) {
    groups = [...parseGroups(s), ...tail];
    if (groups.length !== 8) throw fail();
  } else if (halves.length === 2) {
    const head = parseGroups(halves[0]!);
    const rest = [...parseGroups(halves[1]!), ...tail];
    const zeros = 8 - head.length - rest.length;
    if (zeros < 1) throw fail();
    groups = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  } else {
    throw fail();
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** RFC 5952 text: lower case, leading zeros dropped, the longest run (≥2) of zero groups as `::`. */
export function bytesToIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** The canonical text of an address, so that `2001:DB8:0::11` and `2001:db8::11` compare equal. */
export function canonicalAddress(text: string): string {
  return text.includes(':') ? bytesToIpv6(ipv6ToBytes(text)) : bytesToIpv4(ipv4ToBytes(text));
}

/** 198.51.100.11 → 11.100.51.198.in-addr.arpa; 2001:db8::11 → 1.1.0.0.…8.b.d.0.1.0.0.2.ip6.arpa */
export function reverseName(address: string): string {
  if (address.includes(':')) {
    const nibbles: string[] = [];
    for (const byte of ipv6ToBytes(address)) nibbles.push((byte >> 4).toString(16), (byte & 0xf).toString(16));
    return `${nibbles.reverse().join('.')}.ip6.arpa`;
  }
  return `${Array.from(ipv4ToBytes(address)).reverse().join('.')}.in-addr.arpa`;
}

// ---------------------------------------------------------------- encoding

class Writer {
  private buf = new Uint8Array(512);
  length = 0;
  private ensure(n: number) {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  u8(v: number) {
    this.ensure(1);
    this.buf[this.length++] = v & 0xff;
  }
  u16(v: number) {
    this.u8(v >>> 8);
    this.u8(v);
  }
  u32(v: number) {
    this.u16(Math.floor(v / 0x10000) & 0xffff);
    this.u16(v & 0xffff);
  }
  u48(v: number) {
    this.u16(Math.floor(v / 0x100000000) & 0xffff);
    this.u32(v % 0x100000000);
  }
  bytes(b: Uint8Array) {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  setU16(at: number, v: number) {
    this.buf[at] = (v >>> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function encodeRdata(w: Writer, rdata: Rdata): void {
  switch (rdata.type) {
    case 'A':
      w.bytes(ipv4ToBytes(rdata.address));
      return;
    case 'AAAA':
      w.bytes(ipv6ToBytes(rdata.address));
      return;
    case 'PTR':
    case 'NS':
    case 'CNAME':
      w.bytes(encodeName(rdata.target));
      return;
    case 'SOA':
      w.bytes(encodeName(rdata.mname));
      w.bytes(encodeName(rdata.rname));
      for (const v of [rdata.serial, rdata.refresh, rdata.retry, rdata.expire, rdata.minimum]) w.u32(v);
      return;
    case 'TXT':
      for (const s of rdata.strings) {
        const b = new TextEncoder().encode(s);
        if (b.length > 255) throw badInput('TXT string longer than 255 bytes');
        w.u8(b.length);
        w.bytes(b);
      }
      return;
    case 'TSIG':
      w.bytes(encodeName(rdata.algorithm, true));
      w.u48(rdata.timeSigned);
      w.u16(rdata.fudge);
      w.u16(rdata.mac.length);
      w.bytes(rdata.mac);
      w.u16(rdata.originalId);
      w.u16(rdata.error);
      w.u16(rdata.other.length);
      w.bytes(rdata.other);
      return;
    case 'raw':
      w.bytes(rdata.bytes);
      return;
  }
}

/** The type number an rdata value belongs to (raw rdata takes the record's own type). */
export function rdataTypeNumber(rdata: Rdata): number | undefined {
  return rdata.type === 'raw' ? undefined : TYPE[rdata.type];
}

export function encodeRecord(rr: ResourceRecord): Uint8Array {
  const w = new Writer();
  writeRecord(w, rr);
  return w.result();
}

function writeRecord(w: Writer, rr: ResourceRecord): void {
  if (rr.rdata) {
    const t = rdataTypeNumber(rr.rdata);
    if (t !== undefined && t !== rr.type) throw badInput(`record ${rr.name}: rdata ${rr.rdata.type} under type ${typeName(rr.type)}`);
  }
  w.bytes(encodeName(rr.name, rr.type === TYPE.TSIG));
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl >>> 0);
  const lenAt = w.length;
  w.u16(0);
  if (rr.rdata) encodeRdata(w, rr.rdata);
  const rdlength = w.length - lenAt - 2;
  if (rdlength > 0xffff) throw badInput(`record ${rr.name}: rdata too long`);
  w.setU16(lenAt, rdlength);
}

/** Encode a message without name compression (RFC 1035 allows that; TSIG needs exact bytes anyway). */
export function encodeMessage(msg: DnsMessage): Uint8Array {
  const w = new Writer();
  w.u16(msg.id);
  const flags =
    (msg.qr ? 0x8000 : 0) |
    ((msg.opcode & 0xf) << 11) |
    (msg.aa ? 0x0400 : 0) |
    (msg.tc ? 0x0200 : 0) |
    (msg.rd ? 0x0100 : 0) |
    (msg.ra ? 0x0080 : 0) |
    (msg.rcode & 0xf);
  w.u16(flags);
  w.u16(msg.questions.length);
  w.u16(msg.answers.length);
  w.u16(msg.authority.length);
  w.u16(msg.additional.length);
  for (const q of msg.questions) {
    w.bytes(encodeName(q.name));
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of [...msg.answers, ...msg.authority, ...msg.additional]) writeRecord(w, rr);
  return w.result();
}

// ---------------------------------------------------------------- decoding

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
  ) {}
  need(n: number) {
    if (this.pos + n > this.buf.length) throw new MalformedMessage(`truncated at byte ${this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  u32(): number {
    return this.u16() * 0x10000 + this.u16();
  }
  u48(): number {
    return this.u16() * 0x100000000 + this.u32();
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /** A possibly compressed name (RFC 1035 §4.1.4); pointers must point backwards, so loops end. */
  name(): string {
    const labels: string[] = [];
    let pos = this.pos;
    let jumped = false;
    let total = 0;
    for (;;) {
      if (pos >= this.buf.length) throw new MalformedMessage(`name runs past the end at byte ${pos}`);
      const len = this.buf[pos]!;
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new MalformedMessage('truncated compression pointer');
        const target = ((len & 0x3f) << 8) | this.buf[pos + 1]!;
        if (target >= pos) throw new MalformedMessage(`compression pointer at byte ${pos} does not point backwards`);
        if (!jumped) this.pos = pos + 2;
        jumped = true;
        pos = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new MalformedMessage(`unsupported label type at byte ${pos}`);
      if (len === 0) {
        if (!jumped) this.pos = pos + 1;
        break;
      }
      if (pos + 1 + len > this.buf.length) throw new MalformedMessage('label runs past the end');
      labels.push(new TextDecoder().decode(this.buf.subarray(pos + 1, pos + 1 + len)));
      total += len + 1;
      if (total > 255) throw new MalformedMessage('name longer than 255 bytes');
      pos += 1 + len;
    }
    return labels.join('.');
  }
}

/** Thrown by the decoder; the client turns it into a RaptorError naming the server. */
export class MalformedMessage extends Error {
  constructor(message: string) {
    super(`malformed DNS message: ${message}`);
    this.name = 'MalformedMessage';
  }
}

function decodeRdata(r: Reader, type: number, rdlength: number): Rdata {
  const end = r.pos + rdlength;
  r.need(rdlength);
  let rdata: Rdata;
  switch (type) {
    case TYPE.A:
      if (rdlength !== 4) throw new MalformedMessage(`A record of ${rdlength} bytes`);
      rdata = { type: 'A', address: bytesToIpv4(r.bytes(4)) };
      break;
    case TYPE.AAAA:
      if (rdlength !== 16) throw new MalformedMessage(`AAAA record of ${rdlength} bytes`);
      rdata = { type: 'AAAA', address: bytesToIpv6(r.bytes(16)) };
      break;
    case TYPE.PTR:
    case TYPE.NS:
    case TYPE.CNAME:
      rdata = { type: type === TYPE.PTR ? 'PTR' : type === TYPE.NS ? 'NS' : 'CNAME', target: r.name() };
      break;
    case TYPE.SOA:
      rdata = {
        type: 'SOA',
        mname: r.name(),
        rname: r.name(),
        serial: r.u32(),
        refresh: r.u32(),
        retry: r.u32(),
        expire: r.u32(),
        minimum: r.u32(),
      };
      break;
    case TYPE.TXT: {
      const strings: string[] = [];
      while (r.pos < end) strings.push(new TextDecoder().decode(r.bytes(r.u8())));
      rdata = { type: 'TXT', strings };
      break;
    }
    case TYPE.TSIG: {
      const algorithm = r.name();
      const timeSigned = r.u48();
      const fudge = r.u16();
      const mac = r.bytes(r.u16());
      const originalId = r.u16();
      const error = r.u16();
      const other = r.bytes(r.u16());
      rdata = { type: 'TSIG', algorithm, timeSigned, fudge, mac, originalId, error, other };
      break;
    }
    default:
      rdata = { type: 'raw', bytes: r.bytes(rdlength) };
  }
  if (r.pos !== end) throw new MalformedMessage(`${typeName(type)} rdata length ${rdlength} does not match its content`);
  return rdata;
}

function readRecord(r: Reader): ResourceRecord {
  const name = r.name();
  const type = r.u16();
  const klass = r.u16();
  const ttl = r.u32();
  const rdlength = r.u16();
  const rdata = rdlength === 0 ? null : decodeRdata(r, type, rdlength);
  return { name, type, class: klass, ttl, rdata };
}

export function decodeMessage(buf: Uint8Array): DecodedMessage {
  const r = new Reader(buf);
  const id = r.u16();
  const flags = r.u16();
  const counts = [r.u16(), r.u16(), r.u16(), r.u16()] as const;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) questions.push({ name: r.name(), type: r.u16(), class: r.u16() });
  const sections: ResourceRecord[][] = [[], [], []];
  let tsigOffset: number | undefined;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const start = r.pos;
      const rr = readRecord(r);
      if (rr.type === TYPE.TSIG) {
        // RFC 8945 §5.1: TSIG must be the last record of the additional section
        if (s !== 2 || i !== counts[3] - 1) throw new MalformedMessage('TSIG record is not the last record');
        tsigOffset = start;
      }
      sections[s]!.push(rr);
    }
  }
  if (r.pos !== buf.length) throw new MalformedMessage(`${buf.length - r.pos} bytes after the last record`);
  const msg: DecodedMessage = {
    id,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
    questions,
    answers: sections[0]!,
    authority: sections[1]!,
    additional: sections[2]!,
  };
  if (tsigOffset !== undefined) msg.tsigOffset = tsigOffset;
  return msg;
}

/** The TSIG record of a message, if it has one. */
export function tsigRecordOf(msg: DnsMessage): (ResourceRecord & { rdata: Extract<Rdata, { type: 'TSIG' }> }) | undefined {
  const last = msg.additional[msg.additional.length - 1];
  if (last?.type === TYPE.TSIG && last.rdata?.type === 'TSIG') return { ...last, rdata: last.rdata };
  return undefined;
}

/** The full rcode: header bits, extended by OPT (RFC 6891) and overridden by a TSIG error (RFC 8945). */
export function effectiveRcode(msg: DnsMessage): number {
  const tsigError = tsigRecordOf(msg)?.rdata.error ?? 0;
  if (tsigError !== 0) return tsigError;
  const opt = msg.additional.find((rr) => rr.type === TYPE.OPT);
  const ext = opt ? (opt.ttl >>> 24) & 0xff : 0;
  return (ext << 4) | msg.rcode;
}

// ---------------------------------------------------------------- RFC 2136 updates

/** RFC 2136 §2.4 prerequisites. `rrset-equals` must list the whole RRset. */
export type Prerequisite =
  | { kind: 'rrset-exists'; name: string; type: number }
  | { kind: 'rrset-equals'; name: string; type: number; rdata: Rdata[] }
  | { kind: 'rrset-absent'; name: string; type: number }
  | { kind: 'name-in-use'; name: string }
  | { kind: 'name-absent'; name: string };

/** RFC 2136 §2.5 deletes: one RR when `rdata` is given, else the whole RRset of `type`. */
export interface Deletion {
  name: string;
  type: number;
  rdata?: Rdata;
}

export interface Addition {
  name: string;
  ttl: number;
  rdata: Rdata;
}

export interface UpdateRequest {
  prerequisites: Prerequisite[];
  deletes: Deletion[];
  adds: Addition[];
}

function prerequisiteRecord(p: Prerequisite): ResourceRecord {
  const name = normalizeName(p.name);
  switch (p.kind) {
    case 'rrset-exists':
      return { name, type: p.type, class: CLASS.ANY, ttl: 0, rdata: null };
    case 'rrset-absent':
      return { name, type: p.type, class: CLASS.NONE, ttl: 0, rdata: null };
    case 'name-in-use':
      return { name, type: TYPE.ANY, class: CLASS.ANY, ttl: 0, rdata: null };
    case 'name-absent':
      return { name, type: TYPE.ANY, class: CLASS.NONE, ttl: 0, rdata: null };
    case 'rrset-equals':
      throw new Error('rrset-equals expands to several records'); // prerequisiteRecords handles it
  }
}

/** Prerequisites as records; `rrset-equals` becomes one class-IN record per rdata (RFC 2136 §2.4.2). */
export function prerequisiteRecords(prerequisites: Prerequisite[]): ResourceRecord[] {
  return prerequisites.flatMap((p) =>
    p.kind === 'rrset-equals'
      ? p.rdata.map((rdata) => ({ name: normalizeName(p.name), type: p.type, class: CLASS.IN, ttl: 0, rdata }))
      : [prerequisiteRecord(p)],
  );
}

function deletionRecord(d: Deletion): ResourceRecord {
  const name = normalizeName(d.name);
  if (d.rdata) return { name, type: d.type, class: CLASS.NONE, ttl: 0, rdata: d.rdata };
  return { name, type: d.type, class: CLASS.ANY, ttl: 0, rdata: null };
}

function additionRecord(a: Addition): ResourceRecord {
  const type = a.rdata.type === 'raw' ? undefined : TYPE[a.rdata.type];
  if (type === undefined) throw badInput(`cannot add raw rdata to ${a.name} without a type`);
  return { name: normalizeName(a.name), type, class: CLASS.IN, ttl: a.ttl, rdata: a.rdata };
}

/** The UPDATE message for `zone` (zone section: the zone's SOA, RFC 2136 §2.3). */
export function updateMessage(id: number, zone: string, request: UpdateRequest): DnsMessage {
  const msg = emptyMessage(id, OPCODE.UPDATE);
  msg.questions.push({ name: normalizeName(zone), type: TYPE.SOA, class: CLASS.IN });
  msg.answers.push(...prerequisiteRecords(request.prerequisites));
  msg.authority.push(...request.deletes.map(deletionRecord), ...request.adds.map(additionRecord));
  return msg;
}

/** Text form of an rdata value, as dig prints it in the answer section (names with a trailing dot). */
export function rdataText(rdata: Rdata): string {
  switch (rdata.type) {
    case 'A':
    case 'AAAA':
      return rdata.address;
    case 'PTR':
    case 'NS':
    case 'CNAME':
      return `${rdata.target}.`;
    case 'SOA':
      return `${rdata.mname}. ${rdata.rname}. ${rdata.serial} ${rdata.refresh} ${rdata.retry} ${rdata.expire} ${rdata.minimum}`;
    case 'TXT':
      return rdata.strings.map((s) => JSON.stringify(s)).join(' ');
    case 'TSIG':
      return `${rdata.algorithm}. ${rdata.timeSigned} ${rdata.fudge} (mac ${rdata.mac.length} bytes) ${rdata.originalId} ${rcodeName(rdata.error)}`;
    case 'raw':
      return `\\# ${rdata.bytes.length} ${Array.from(rdata.bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
}
