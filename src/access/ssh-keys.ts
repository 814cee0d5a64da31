// SSH public keys: parse and validate (type, base64, embedded type, size), and merge into an
// authorized_keys text. Pure: values in, values out (node:crypto only hashes the fingerprint).
import { createHash } from 'node:crypto';
import { badInput } from '../core/errors.ts';

export interface SshPublicKey {
  type: string;
  /** the key blob, base64 as given (canonical: re-encoded from the decoded bytes) */
  base64: string;
  comment: string;
  /** `SHA256:…` as `ssh-keygen -l` prints it */
  fingerprint: string;
  /** RSA modulus bits, EC curve bits, 256 for ed25519 */
  bits: number;
}

const ECDSA_CURVES: Record<string, { curve: string; pointBytes: number; bits: number }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', pointBytes: 65, bits: 256 },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', pointBytes: 97, bits: 384 },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', pointBytes: 133, bits: 521 },
};

export const SUPPORTED_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  ...Object.keys(ECDSA_CURVES),
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;

export const MIN_RSA_BITS = 2048;

/** The modes sshd's StrictModes wants for ~/.ssh and authorized_keys, and raptor sets. */
export const SSH_DIR_MODE = 0o700;
export const AUTHORIZED_KEYS_MODE = 0o600;

export const PRIVATE_KEY_WARNING =
  'this is a PRIVATE key: it must never be pasted or copied anywhere (not here, not in chat, not in a ticket). ' +
  'Pass the PUBLIC key (the .pub file, one line starting with ssh-ed25519, ssh-rsa, ecdsa-sha2-… or sk-…). ' +
  'If this private key was exposed, consider it compromised and make a new one.';

/** True when the text holds a private key in any of the usual armours. */
export function looksLikePrivateKey(text: string): boolean {
  return /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|OPENSSH PRIVATE KEY|PuTTY-User-Key-File-/.test(text);
}

/** Reads SSH wire-format strings from a key blob. */
class BlobReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  string(what: string): Buffer {
    if (this.pos + 4 > this.buf.length) throw new Error(`truncated before ${what}`);
    const len = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    if (len > this.buf.length - this.pos) throw new Error(`truncated in ${what}`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  get done(): boolean {
    return this.pos === this.buf.length;
  }
}

function bitLength(mpint: Buffer): number {
  let i = 0;
  while (i < mpint.length && mpint[i] === 0) i++;
  if (i === mpint.length) return 0;
  return (mpint.length - i - 1) * 8 + (32 - Math.clz32(mpint[i]!));
}

/** Check the blob's structure for its type; returns the key size in bits. */
function checkBlob(type: string, blob: Buffer): number {
  const r = new BlobReader(blob);
  const embedded = r.string('the key type').toString('latin1');
  if (embedded !== type) throw new Error(`the key type inside the key data is not ${type}`);
  let bits: number;
  if (type === 'ssh-ed25519' || type === 'sk-ssh-ed25519@openssh.com') {
    if (r.string('the public key').length !== 32) throw new Error('an ed25519 public key is 32 bytes');
    bits = 256;
  } else if (type === 'ssh-rsa') {
    const e = r.string('the exponent');
    const n = r.string('the modulus');
    if (bitLength(e) === 0) throw new Error('the RSA exponent is zero');
    bits = bitLength(n);
    if (bits < MIN_RSA_BITS) throw new Error(`RSA key of ${bits} bits is too small: at least ${MIN_RSA_BITS} bits`);
  } else {
    const base = type === 'sk-ecdsa-sha2-nistp256@openssh.com' ? 'ecdsa-sha2-nistp256' : type;
    const ec = ECDSA_CURVES[base];
    if (!ec) throw new Error(`unsupported key type ${type}`);
    const curve = r.string('the curve name').toString('latin1');
    if (curve !== ec.curve) throw new Error(`the curve inside the key data is not ${ec.curve}`);
    const q = r.string('the public point');
    if (q.length !== ec.pointBytes || q[0] !== 4) throw new Error(`the ${ec.curve} point must be ${ec.pointBytes} bytes, uncompressed`);
    bits = ec.bits;
  }
  if (type.startsWith('sk-')) r.string('the security key application');
  if (!r.done) throw new Error('trailing bytes after the key');
  return bits;
}

const B64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parse one public key line: `TYPE BASE64 [COMMENT]`. Throws bad-input with the reason. */
export function parsePublicKey(line: string, source = 'key'): SshPublicKey {
  const text = line.trim();
  if (looksLikePrivateKey(text)) throw badInput(`${source}: ${PRIVATE_KEY_WARNING}`);
  const m = /^(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(text);
  // messages say where and why, never what the line holds: the text may come from any file
  if (!m) throw badInput(`${source}: not an SSH public key: expected "TYPE BASE64 [COMMENT]"`);
  const [, type, b64, comment = ''] = m as unknown as [string, string, string, string | undefined];
  if (!(SUPPORTED_KEY_TYPES as readonly string[]).includes(type)) {
    const hint = /^(from=|command=|no-|restrict|environment=|permitopen=|principals=|tunnel=|cert-authority|expiry-time=)/.test(type)
      ? ' (authorized_keys options are not accepted: pass the bare key)'
      : '';
    throw badInput(`${source}: the first word is not a supported key type${hint}: use one of ${SUPPORTED_KEY_TYPES.join(', ')}`);
  }
  if (!B64_RE.test(b64) || b64.length % 4 !== 0) throw badInput(`${source}: the ${type} key data is not valid base64`);
  const blob = Buffer.from(b64, 'base64');
  if (blob.toString('base64') !== b64) throw badInput(`${source}: the ${type} key data is not valid base64`);
  let bits: number;
  try {
    bits = checkBlob(type, blob);
  } catch (err) {
    throw badInput(`${source}: invalid ${type} key: ${(err as Error).message}`);
  }
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  return { type, base64: b64, comment: comment.trim(), fingerprint, bits };
}

/**
 * Parse a text that holds one or more public keys (a .pub file or a pasted key), one per line;
 * empty lines and `#` comments are skipped. A private key anywhere in it is refused.
 */
export function parsePublicKeys(text: string, source = 'key'): SshPublicKey[] {
  if (looksLikePrivateKey(text)) throw badInput(`${source}: ${PRIVATE_KEY_WARNING}`);
  const keys: SshPublicKey[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    keys.push(parsePublicKey(t, text.includes('\n') ? `${source} line ${i + 1}` : source));
  });
  if (keys.length === 0) throw badInput(`${source}: no SSH public key in it`);
  return keys;
}

export const keyIdentity = (k: { type: string; base64: string }): string => `${k.type} ${k.base64}`;

export const formatAuthorizedKey = (k: SshPublicKey): string => [k.type, k.base64, k.comment].filter(Boolean).join(' ');

/** Keys in an authorized_keys text, options or not; unparseable lines are kept but not matched. */
export function authorizedKeyIdentities(text: string): Set<string> {
  const ids = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const tokens = line.trim().split(/\s+/);
    if (tokens[0] === undefined || tokens[0].startsWith('#')) continue;
    // with options first, the type is a later token; options with quoted spaces only shift it further
    const i = tokens.findIndex((t) => (SUPPORTED_KEY_TYPES as readonly string[]).includes(t) || /^(ssh|ecdsa|sk)-\S+$/.test(t));
    if (i >= 0 && tokens[i + 1]) ids.add(`${tokens[i]} ${tokens[i + 1]}`);
  }
  return ids;
}

export interface KeyMerge {
  text: string;
  added: SshPublicKey[];
  present: SshPublicKey[];
}

/** Append the keys not yet in `existing` (compared by type + base64); existing lines stay byte-identical. */
export function mergeAuthorizedKeys(existing: string, keys: SshPublicKey[]): KeyMerge {
  const have = authorizedKeyIdentities(existing);
  const added: SshPublicKey[] = [];
  const present: SshPublicKey[] = [];
  for (const k of keys) {
    if (have.has(keyIdentity(k))) present.push(k);
    else {
      have.add(keyIdentity(k));
      added.push(k);
    }
  }
  if (added.length === 0) return { text: existing, added, present };
  const base = existing === '' || existing.endsWith('\n') ? existing : `${existing}\n`;
  return { text: base + added.map((k) => formatAuthorizedKey(k) + '\n').join(''), added, present };
}

/** Deduplicate keys given more than once on one command line. */
export function uniqueKeys(keys: SshPublicKey[]): SshPublicKey[] {
  const seen = new Set<string>();
  return keys.filter((k) => (seen.has(keyIdentity(k)) ? false : (seen.add(keyIdentity(k)), true)));
}
