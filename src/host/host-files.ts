// The host's own files as host init and host check need them (polkit rules, libvirt daemon
// configs, login.defs): the narrow `HostFiles` interface and its real implementation over
// node:fs. Reads are bounded and refuse what is not a regular file; writes replace atomically.
import { chmodSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isRaptorError, RaptorError } from '../core/errors.ts';
import { fileKind, readBoundedText } from './files.ts';

/** Largest host file raptor reads for host init or check (a libvirtd.conf is ~20 KiB). */
export const MAX_HOST_FILE_BYTES = 4 * 1024 * 1024;

export interface HostFileStat {
  kind: 'file' | 'directory' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
}

export interface HostFiles {
  /** the file's text, undefined when it does not exist; not a regular file or too big: bad input */
  read(path: string, maxBytes?: number): Promise<string | undefined>;
  /** replace (or create) the file atomically: a temp file beside it, then rename */
  write(path: string, text: string, mode: number): Promise<void>;
  remove(path: string): Promise<void>;
  /** stat (symbolic links followed unless noFollow: then lstat); undefined when missing */
  stat(path: string, opts?: { noFollow?: boolean }): Promise<HostFileStat | undefined>;
  /** names in a directory, [] when it does not exist */
  list(dir: string): Promise<string[]>;
}

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

export class NodeHostFiles implements HostFiles {
  async read(path: string, maxBytes = MAX_HOST_FILE_BYTES): Promise<string | undefined> {
    let st;
    try {
      st = statSync(path);
    } catch (err) {
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return undefined;
      // the errno stays on the error: host check shows it ("cannot read it: EACCES")
      throw Object.assign(new RaptorError(errCode(err) === 'EACCES' ? 'not-allowed' : 'unexpected', `cannot read ${path}: ${errCode(err) ?? (err as Error).message}`), { code: errCode(err) });
    }
    if (!st.isFile()) throw new RaptorError('bad-input', `${path}: ${fileKind(st)}, not a regular file`);
    try {
      return readBoundedText(path, 'host file', maxBytes, { missing: 'not-found', denied: 'not-allowed' });
    } catch (err) {
      if (isRaptorError(err, 'not-found')) return undefined;
      throw err;
    }
  }

  async write(path: string, text: string, mode: number): Promise<void> {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = join(dirname(path), `.${basename(path)}.raptor-${process.pid}`);
    try {
      writeFileSync(tmp, text, { mode, flag: 'w' });
      chmodSync(tmp, mode); // the umask must not decide the mode
      renameSync(tmp, path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  async remove(path: string): Promise<void> {
    rmSync(path, { force: true });
  }

  async stat(path: string, opts: { noFollow?: boolean } = {}): Promise<HostFileStat | undefined> {
    try {
      const st = opts.noFollow ? lstatSync(path) : statSync(path);
      const kind = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
      return { kind, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs };
    } catch (err) {
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  async list(dir: string): Promise<string[]> {
    try {
      return readdirSync(dir).sort();
    } catch (err) {
      if (errCode(err) === 'ENOENT' || errCode(err) === 'ENOTDIR') return [];
      throw err;
    }
  }
}
