// TSIG (RFC 8945): BIND key files, signing requests, verifying responses. Pure: node:crypto only computes.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { badInput } from '../core/errors.ts';
import { CLASS, TYPE, encodeName, encodeRecord, normalizeName, type DecodedMessage, tsigRecordOf } from './wire.ts';

export const TSIG_ALGORITHMS = {
  'hmac-sha1': 'sha1',
  'hmac-sha224': 'sha224',
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
} as const;
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

export const DEFAULT_FUDGE = 300;

const isAlgorithm = (s: string): s is TsigAlgorithm => Object.hasOwn(TSIG_ALGORITHMS, s);

/**
 * A TSIG key. The secret sits in a private field, so it never shows in JSON, util.inspect, logs
 * or error messages; only `mac()` uses it.
 */
export class TsigKey {
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly #secret: Uint8Array;

  constructor(name: string, algorithm: TsigAlgorithm, secret: Uint8Array) {
    this.name = normalizeName(name);
    this.algorithm = algorithm;
    this.#secret = Uint8Array.from(secret);
  }

  mac(parts: Uint8Array[]): Uint8Array {
    const h = createHmac(TSIG_ALGORITHMS[this.algorithm], this.#secret);
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  }

  toJSON(): { name: string; algorithm: TsigAlgorithm } {
    return { name: this.name, algorithm: this.algorithm };
  }

  toString(): string {
    return `TSIG key ${this.name} (${this.algorithm})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

// ---------------------------------------------------------------- key files

type Token = { kind: 'word' | 'string' | 'punct'; text: string; line: number };

function tokenize(text: string, source: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw badInput(`${source}: line ${line}: unterminated comment`);
      for (let j = i; j < end; j++) if (text[j] === '\n') line++;
      i = end + 2;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw badInput(`${source}: line ${line}: unterminated string`);
      const s = text.slice(i + 1, end);
      tokens.push({ kind: 'string', text: s, line });
      line += s.split('\n').length - 1;
      i = end + 1;
    } else if ('{};'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, line });
      i++;
    } else {
      let j = i;
      while (j < text.length && !/[\s{};"#]/.test(text[j]!)) j++;
      tokens.push({ kind: 'word', text: text.slice(i, j), line });
      i = j;
    }
  }
  return tokens;
}

/**
 * Parse a BIND key file (`key "name" { algorithm hmac-sha256; secret "base64"; };`, as written by
 * tsig-keygen). Messages name the file and line, never a token's text, so a secret cannot leak.
 */
export function parseKeyFile(text: string, source: string): TsigKey[] {
  const tokens = tokenize(text, source);
  const keys: TsigKey[] = [];
  let i = 0;
  const lineOf = (t: Token | undefined) => (t ? `line ${t.line}` : 'end of file');
  const expect = (p: string, what: string) => {
    const t = tokens[i];
    if (t?.kind !== 'punct' || t.text !== p) throw badInput(`${source}: ${lineOf(t)}: expected ${JSON.stringify(p)} ${what}`);
    i++;
  };
  const skipStatement = () => {
    let depth = 0;
    while (i < tokens.length) {
      const t = tokens[i++]!;
      if (t.kind !== 'punct') continue;
      if (t.text === '{') depth++;
      else if (t.text === '}') depth--;
      else if (t.text === ';' && depth <= 0) return;
    }
  };
  while (i < tokens.length) {
    const head = tokens[i]!;
    if (head.kind !== 'word' || head.text.toLowerCase() !== 'key') {
      skipStatement(); // other named.conf statements may share the file
      continue;
    }
    i++;
    const nameTok = tokens[i];
    if (!nameTok || nameTok.kind === 'punct') throw badInput(`${source}: ${lineOf(nameTok)}: expected a key name after "key"`);
    const name = nameTok.text;
    i++;
    expect('{', `after key ${JSON.stringify(name)}`);
    let algorithm: string | undefined;
    let secret: string | undefined;
    while (tokens[i] && !(tokens[i]!.kind === 'punct' && tokens[i]!.text === '}')) {
      const field = tokens[i]!;
      const value = tokens[i + 1];
      if (field.kind !== 'word' || !value || value.kind === 'punct') {
        throw badInput(`${source}: ${lineOf(field)}: expected "algorithm NAME;" or "secret \\"BASE64\\";" in key ${JSON.stringify(name)}`);
      }
      const f = field.text.toLowerCase();
      if (f === 'algorithm') algorithm = value.text.toLowerCase();
      else if (f === 'secret') secret = value.text;
      else throw badInput(`${source}: ${lineOf(field)}: unknown field in key ${JSON.stringify(name)}`);
      i += 2;
      expect(';', `after the ${f} of key ${JSON.stringify(name)}`);
    }
    expect('}', `closing key ${JSON.stringify(name)}`);
    expect(';', `after key ${JSON.stringify(name)}`);
    if (algorithm === undefined) throw badInput(`${source}: key ${JSON.stringify(name)} has no algorithm`);
    if (!isAlgorithm(algorithm)) {
      throw badInput(`${source}: key ${JSON.stringify(name)}: unsupported algorithm ${algorithm} (supported: ${Object.keys(TSIG_ALGORITHMS).join(', ')})`);
    }
    if (secret === undefined) throw badInput(`${source}: key ${JSON.stringify(name)} has no secret`);
    const compact = secret.replace(/\s+/g, '');
    if (compact === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
      throw badInput(`${source}: key ${JSON.stringify(name)}: the secret is not valid base64`);
    }
    keys.push(new TsigKey(name, algorithm, new Uint8Array(Buffer.from(compact, 'base64'))));
  }
  return keys;
}

/** The one key to use: the named one, else the only one with the configured algorithm. */
export function selectKey(keys: TsigKey[], source: string, want: { algorithm?: TsigAlgorithm; name?: string } = {}): TsigKey {
  let candidates = keys;
  if (want.name !== undefined) candidates = candidates.filter((k) => k.name === normalizeName(want.name!));
  if (want.algorithm !== undefined) candidates = candidates.filter((k) => k.algorithm === want.algorithm);
  const what = [want.name && `named ${want.name}`, want.algorithm && `with algorithm ${want.algorithm}`].filter(Boolean).join(' ');
  if (candidates.length === 0) throw badInput(`${source}: no TSIG key${what ? ` ${what}` : ''} (found: ${keys.map((k) => k.toString()).join(', ') || 'none'})`);
  if (candidates.length > 1) throw badInput(`${source}: ${candidates.length} TSIG keys${what ? ` ${what}` : ''} (${candidates.map((k) => k.name).join(', ')}); keep one`);
  return candidates[0]!;
}

// ---------------------------------------------------------------- sign and verify

const u16 = (v: number) => Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
const u32 = (v: number) => Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
const u48 = (v: number) => Uint8Array.of(...u16(Math.floor(v / 0x100000000)), ...u32(v % 0x100000000));

/** The TSIG variables of RFC 8945 §4.3.3, in the order they are digested. */
function tsigVariables(keyName: string, algorithm: string, timeSigned: number, fudge: number, error: number, other: Uint8Array): Uint8Array[] {
  return [
    encodeName(keyName, true),
    u16(CLASS.ANY),
    u32(0),
    encodeName(algorithm, true),
    u48(timeSigned),
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ];
}

export interface SignedRequest {
  bytes: Uint8Array;
  /** The request MAC; the response's MAC covers it. */
  mac: Uint8Array;
}

/** Append a TSIG record to an encoded, unsigned message. `now` is seconds since the epoch. */
export function signMessage(message: Uint8Array, key: TsigKey, now: number, fudge = DEFAULT_FUDGE): SignedRequest {
  if (message.length < 12) throw badInput('cannot sign a DNS message shorter than its header');
  const id = (message[0]! << 8) | message[1]!;
  const timeSigned = Math.floor(now);
  const algorithm = key.algorithm;
  const mac = key.mac([message, ...tsigVariables(key.name, algorithm, timeSigned, fudge, 0, new Uint8Array(0))]);
  const rr = encodeRecord({
    name: key.name,
    type: TYPE.TSIG,
    class: CLASS.ANY,
    ttl: 0,
    rdata: { type: 'TSIG', algorithm, timeSigned, fudge, mac, originalId: id, error: 0, other: new Uint8Array(0) },
  });
  const bytes = new Uint8Array(message.length + rr.length);
  bytes.set(message);
  bytes.set(rr, message.length);
  const arcount = ((message[10]! << 8) | message[11]!) + 1;
  bytes[10] = arcount >> 8;
  bytes[11] = arcount & 0xff;
  return { bytes, mac };
}

export type TsigVerification =
  | { ok: true }
  | { ok: false; reason: 'unsigned' }
  /** the server reported a TSIG error (BADSIG, BADKEY, BADTIME, …) in the TSIG record */
  | { ok: false; reason: 'server-rejected'; error: number }
  | { ok: false; reason: 'wrong-key' | 'bad-mac' | 'bad-time'; detail: string };

/**
 * Verify the TSIG of a response to a request signed with `key` whose MAC was `requestMac`
 * (RFC 8945 §5.3). `raw` are the bytes `decoded` came from.
 */
export function verifyResponse(raw: Uint8Array, decoded: DecodedMessage, requestMac: Uint8Array, key: TsigKey, now: number): TsigVerification {
  const tsig = tsigRecordOf(decoded);
  if (!tsig || decoded.tsigOffset === undefined) return { ok: false, reason: 'unsigned' };
  const t = tsig.rdata;
  if (t.error !== 0) return { ok: false, reason: 'server-rejected', error: t.error };
  if (normalizeName(tsig.name) !== key.name || normalizeName(t.algorithm) !== key.algorithm) {
    return { ok: false, reason: 'wrong-key', detail: `signed with ${normalizeName(tsig.name)} (${normalizeName(t.algorithm)})` };
  }
  const body = raw.slice(0, decoded.tsigOffset);
  body[0] = t.originalId >> 8;
  body[1] = t.originalId & 0xff;
  const arcount = ((body[10]! << 8) | body[11]!) - 1;
  body[10] = arcount >> 8;
  body[11] = arcount & 0xff;
  const expected = key.mac([u16(requestMac.length), requestMac, body, ...tsigVariables(tsig.name, t.algorithm, t.timeSigned, t.fudge, t.error, t.other)]);
  // no truncated MACs (RFC 8945 §5.2.2.1 allows them, neither BIND nor Knot sends them by default)
  if (t.mac.length !== expected.length || !timingSafeEqual(t.mac, expected)) return { ok: false, reason: 'bad-mac', detail: 'the MAC does not match' };
  if (Math.abs(Math.floor(now) - t.timeSigned) > t.fudge) {
    return { ok: false, reason: 'bad-time', detail: `signed at ${t.timeSigned}, now ${Math.floor(now)}, fudge ${t.fudge}` };
  }
  return { ok: true };
}
