// Who runs `raptor web …`, learnt from the kernel: the CLI creates a file in a root-owned sticky
// spool directory, and the server credits the uid that owns it. The file carries a nonce the CLI
// also sends, so only the process that made it (or root) can redeem it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, constants, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { badInput, notAllowed, RaptorError } from '../core/errors.ts';
import { ensureSafeDir } from '../host/trusted-files.ts';

/** root-owned, sticky (no one renames or deletes another's file), writable and enterable by all, listable by none. */
export const SPOOL_MODE = 0o1733;
export const PROOF_NAME_RE = /^[0-9a-f]{64}$/;
export const NONCE_RE = /^[0-9a-f]{64}$/;
const PROOF_PREFIX = 'raptor-web-proof-v1 ';
const PROOF_BYTES = PROOF_PREFIX.length + 64 + 1;
/** A proof older than this is refused: it was left behind, not made for this request. */
export const PROOF_MAX_AGE_MS = 120_000;

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** Create the spool directory (server side, as root) and refuse to serve unless it is exactly as it must be. */
export function ensureSpoolDir(dir: string): void {
  // its parents: root's, and enterable by the users who sign in (as /run/raptor of the host lock)
  ensureSafeDir(dirname(dir), 0o755, 'the sign-in spool');
  try {
    mkdirSync(dir, { mode: SPOOL_MODE });
  } catch (err) {
    if (errCode(err) !== 'EEXIST') throw notAllowed(`cannot create the sign-in spool ${dir}: ${errCode(err) ?? (err as Error).message}`);
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw notAllowed(`refusing to use the sign-in spool ${dir}: it is not a directory (a symlink?); remove it`);
  if (st.uid !== (process.geteuid?.() ?? 0)) throw notAllowed(`refusing to use the sign-in spool ${dir}: owned by uid ${st.uid}; remove it and let raptor serve create it`);
  if ((st.mode & 0o7777) !== SPOOL_MODE) chmodSync(dir, SPOOL_MODE); // the umask must not decide, nor an old mode
  if (readHardlinkProtection() === false) {
    throw notAllowed('refusing to serve sign-ins: fs.protected_hardlinks is 0, so a user could link another user\'s file into the spool; fix: sysctl -w fs.protected_hardlinks=1');
  }
}

function readHardlinkProtection(): boolean | undefined {
  try {
    return readFileSync('/proc/sys/fs/protected_hardlinks', 'utf8').trim() === '1';
  } catch {
    return undefined; // not Linux /proc: nothing to read, nlink still guards
  }
}

/** The spool as a client must find it: root-owned and sticky, or someone else could take the proof. */
export function checkSpoolDirForClient(dir: string): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    throw new RaptorError('unexpected', `the sign-in spool ${dir} is missing (${errCode(err) ?? 'unreadable'}): is raptor serve running?`);
  }
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o1000) === 0) {
    throw notAllowed(`refusing to sign in through ${dir}: it must be a root-owned sticky directory (an admin runs raptor serve, which creates it)`);
  }
}

export interface Proof {
  name: string;
  nonce: string;
  path: string;
}

/** Client side, as the user: a new file only this user owns and reads. */
export function writeProof(dir: string): Proof {
  checkSpoolDirForClient(dir);
  const name = randomBytes(32).toString('hex');
  const nonce = randomBytes(32).toString('hex');
  const path = join(dir, name);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, `${PROOF_PREFIX}${nonce}\n`);
  } finally {
    closeSync(fd);
  }
  return { name, nonce, path };
}

/** Client side: the server deletes a redeemed proof; anything left (a refusal, no server) goes too. */
export const removeProof = (p: Proof): void => rmSync(p.path, { force: true });

const refused = (why: string): RaptorError => notAllowed(`sign-in proof refused: ${why}`);

/**
 * Server side, as root: the uid that owns the proof file `name` holding `nonce`. The file must be
 * a regular file (opened without following a symlink; no FIFO can block us), with one link (no
 * hard link to someone else's file), readable by its owner only, fresh, and hold exactly the
 * proof. It is deleted once read: a proof is good once.
 */
export function redeemProof(dir: string, name: string, nonce: string, now = Date.now()): { uid: number } {
  if (!PROOF_NAME_RE.test(name) || !NONCE_RE.test(nonce)) throw badInput('a sign-in proof is a file name and a nonce of 64 hex digits each');
  const path = join(dir, name);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw refused(errCode(err) === 'ENOENT' ? 'no such proof' : `cannot open it (${errCode(err) ?? 'error'})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refused('not a regular file');
    if (st.nlink !== 1) throw refused('the file has other links');
    if ((st.mode & 0o077) !== 0) throw refused('the file is readable or writable by others');
    if (st.size !== PROOF_BYTES) throw refused('not a proof');
    if (Math.abs(now - st.mtimeMs) > PROOF_MAX_AGE_MS) throw refused('the proof is stale');
    const buf = Buffer.alloc(PROOF_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const want = Buffer.from(`${PROOF_PREFIX}${nonce}\n`);
    if (n !== want.length || !timingSafeEqual(buf.subarray(0, n), want)) throw refused('the nonce does not match');
    // the directory is sticky: only the owner could have swapped the name meanwhile, and then this is theirs too
    try {
      const again = lstatSync(path);
      if (again.ino === st.ino && again.dev === st.dev) unlinkSync(path);
    } catch {
      // already gone: the owner removed it
    }
    return { uid: st.uid };
  } finally {
    closeSync(fd);
  }
}

/**
 * Server side: delete proofs nobody redeemed (a CLI killed halfway), so the spool does not fill.
 * Only entries older than twice the proof age go; the number removed.
 */
export function sweepStaleProofs(dir: string, now = Date.now()): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      const st = lstatSync(join(dir, name));
      // sticky directory: only the entry's owner could swap it meanwhile, and it is their own then
      if (now - st.mtimeMs > 2 * PROOF_MAX_AGE_MS && !st.isDirectory()) {
        unlinkSync(join(dir, name));
        removed++;
      }
    } catch {
      // gone meanwhile
    }
  }
  return removed;
}
