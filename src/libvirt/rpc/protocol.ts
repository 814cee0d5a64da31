// libvirt's remote protocol: message framing (virnetprotocol.x) and the structures of the
// procedures raptor calls (remote_protocol.x). Numbers are libvirt's own; they never change
// once released, as old clients depend on them.
import { LibvirtError } from '../hypervisor.ts';
import { XdrError, XdrReader, XdrWriter } from './xdr.ts';

export const REMOTE_PROGRAM = 0x20008086;
export const REMOTE_PROTOCOL_VERSION = 1;

/** virNetMessageType */
export const MSG_TYPE = { CALL: 0, REPLY: 1, MESSAGE: 2, STREAM: 3, CALL_WITH_FDS: 4, REPLY_WITH_FDS: 5 } as const;
/** virNetMessageStatus */
export const MSG_STATUS = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;

/** the length word counts itself: 4 bytes of length + 24 of header */
export const HEADER_BYTES = 28;
/** VIR_NET_MESSAGE_MAX plus the length word: a bigger length is a broken stream */
export const MESSAGE_MAX = 16777216 + 4;
/** REMOTE_STRING_MAX */
export const STRING_MAX = 4194304;
/** REMOTE_DOMAIN_LIST_MAX */
export const DOMAIN_LIST_MAX = 16384;
/** REMOTE_AUTH_TYPE_LIST_MAX */
export const AUTH_TYPE_LIST_MAX = 20;
const UUID_BYTES = 16;

/** remote_procedure numbers used here */
export const PROC = {
  CONNECT_OPEN: 1,
  CONNECT_CLOSE: 2,
  CONNECT_GET_VERSION: 4,
  DOMAIN_CREATE: 9,
  DOMAIN_DESTROY: 12,
  DOMAIN_GET_XML_DESC: 14,
  DOMAIN_LOOKUP_BY_NAME: 23,
  DOMAIN_REBOOT: 27,
  DOMAIN_SHUTDOWN: 33,
  AUTH_LIST: 66,
  AUTH_POLKIT: 70,
  DOMAIN_IS_PERSISTENT: 151,
  CONNECT_GET_LIB_VERSION: 157,
  DOMAIN_GET_STATE: 212,
  DOMAIN_UNDEFINE_FLAGS: 231,
  DOMAIN_RESET: 245,
  CONNECT_LIST_ALL_DOMAINS: 273,
  CONNECT_GET_DOMAIN_CAPABILITIES: 342,
  DOMAIN_DEFINE_XML_FLAGS: 350,
} as const;

/** remote_auth_type */
export const AUTH = { NONE: 0, SASL: 1, POLKIT: 2 } as const;

/** virDomainXMLFlags */
export const DOMAIN_XML = { SECURE: 1, INACTIVE: 2 } as const;
/** virDomainUndefineFlagsValues */
export const UNDEFINE = { MANAGED_SAVE: 1, SNAPSHOTS_METADATA: 2, NVRAM: 4, CHECKPOINTS_METADATA: 16 } as const;

export interface Header {
  prog: number;
  vers: number;
  proc: number;
  type: number;
  serial: number;
  status: number;
}

export interface Message {
  header: Header;
  payload: Buffer;
}

/** One whole message: length word, header, payload. */
export function encodeMessage(header: Header, payload: Buffer = Buffer.alloc(0)): Buffer {
  const w = new XdrWriter()
    .uint(HEADER_BYTES + payload.length)
    .uint(header.prog)
    .uint(header.vers)
    .int(header.proc)
    .int(header.type)
    .uint(header.serial)
    .int(header.status);
  return Buffer.concat([w.toBuffer(), payload]);
}

/** A call to the remote program. */
export const encodeCall = (proc: number, serial: number, payload?: Buffer): Buffer =>
  encodeMessage({ prog: REMOTE_PROGRAM, vers: REMOTE_PROTOCOL_VERSION, proc, type: MSG_TYPE.CALL, serial, status: MSG_STATUS.OK }, payload);

export function decodeMessage(frame: Buffer): Message {
  if (frame.length < HEADER_BYTES) throw new XdrError(`message of ${frame.length} bytes, shorter than its header`);
  const r = new XdrReader(frame.subarray(0, HEADER_BYTES));
  const length = r.uint();
  if (length !== frame.length) throw new XdrError(`message says ${length} bytes, has ${frame.length}`);
  const header = { prog: r.uint(), vers: r.uint(), proc: r.int(), type: r.int(), serial: r.uint(), status: r.int() };
  return { header, payload: frame.subarray(HEADER_BYTES) };
}

/** Cuts a byte stream into whole messages; bytes of an unfinished one wait for the next chunk. */
export class MessageSplitter {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32BE(0);
      if (length < HEADER_BYTES || length > MESSAGE_MAX) throw new XdrError(`message length ${length} out of bounds`);
      if (this.pending.length < length) break;
      out.push(this.pending.subarray(0, length));
      this.pending = this.pending.subarray(length);
    }
    return out;
  }
}

// ---- structures ----

export interface RemoteDomain {
  name: string;
  uuid: Buffer;
  id: number;
}

export const writeString = (w: XdrWriter, s: string): void => void w.string(s, STRING_MAX);
export const writeOptString = (w: XdrWriter, s: string | undefined): void => void w.optional(s, writeString);
export const readString = (r: XdrReader): string => r.string(STRING_MAX);
export const readOptString = (r: XdrReader): string | undefined => r.optional(readString);

/** remote_nonnull_domain */
export function writeDomain(w: XdrWriter, d: RemoteDomain): void {
  writeString(w, d.name);
  if (d.uuid.length !== UUID_BYTES) throw new XdrError(`uuid of ${d.uuid.length} bytes`);
  w.fixedOpaque(d.uuid);
  w.int(d.id);
}

export function readDomain(r: XdrReader): RemoteDomain {
  return { name: readString(r), uuid: r.fixedOpaque(UUID_BYTES), id: r.int() };
}

/** remote_error: libvirt's virError, the payload of a failed reply. */
export interface RemoteError {
  code: number;
  domain: number;
  message: string | undefined;
  level: number;
  dom: RemoteDomain | undefined;
  str1: string | undefined;
  str2: string | undefined;
  str3: string | undefined;
  int1: number;
  int2: number;
  net: { name: string; uuid: Buffer } | undefined;
}

export function readRemoteError(r: XdrReader): RemoteError {
  return {
    code: r.int(),
    domain: r.int(),
    message: readOptString(r),
    level: r.int(),
    dom: r.optional(readDomain),
    str1: readOptString(r),
    str2: readOptString(r),
    str3: readOptString(r),
    int1: r.int(),
    int2: r.int(),
    net: r.optional((x) => ({ name: readString(x), uuid: x.fixedOpaque(UUID_BYTES) })),
  };
}

export function writeRemoteError(w: XdrWriter, e: RemoteError): void {
  w.int(e.code).int(e.domain);
  writeOptString(w, e.message);
  w.int(e.level);
  w.optional(e.dom, writeDomain);
  writeOptString(w, e.str1);
  writeOptString(w, e.str2);
  writeOptString(w, e.str3);
  w.int(e.int1).int(e.int2);
  w.optional(e.net, (x, n) => {
    writeString(x, n.name);
    x.fixedOpaque(n.uuid);
  });
}

/** A failed reply's payload as the LibvirtError it reports, with libvirt's code and domain. */
export function libvirtErrorFromReply(payload: Buffer): LibvirtError {
  const e = readRemoteError(new XdrReader(payload));
  return new LibvirtError(e.code, e.message ?? `libvirt error ${e.code}`, { domain: e.domain });
}
