// Files raptor creates, trusts or serializes on (lock, audit log, account record) must be out of
// reach of non-admins: owned by the user raptor runs as (root), in a directory only that user can
// change, on a path no one else can rename. One place decides what "out of reach" means.
import { chmodSync, closeSync, existsSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync, constants, type Stats } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { notAllowed, RaptorError } from '../core/errors.ts';

/** The uid that must own raptor's files: the one it runs as (root on a real host). */
export const ownerUid = (): number => process.geteuid?.() ?? 0;

const oct = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;
const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

export interface PathProblem {
  path: string;
  problem: string;
  fix: string;
}

/**
 * Why `dir` (and the path leading to it) is not safe for raptor's files, or [] when it is: every
 * component owned by root or us; the directory itself writable by no one else; ancestors writable
 * by others only when sticky (as /tmp: others cannot rename what is ours there).
 */
export function dirProblems(dir: string): PathProblem[] {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (err) {
    return [{ path: dir, problem: `cannot be resolved (${errCode(err) ?? (err as Error).message})`, fix: `create it: install -d -m 0755 -o root -g root ${dir}` }];
  }
  const out: PathProblem[] = [];
  const me = ownerUid();
  for (let p = real, first = true; ; p = dirname(p), first = false) {
    const st = statSync(p);
    if (!st.isDirectory()) out.push({ path: p, problem: 'is not a directory', fix: `remove ${p} or point the config elsewhere` });
    if (st.uid !== 0 && st.uid !== me) out.push({ path: p, problem: `is owned by uid ${st.uid}, who could replace what raptor keeps there`, fix: `chown root:root ${p}` });
    const othersWrite = (st.mode & 0o022) !== 0;
    if (othersWrite && (first || (st.mode & 0o1000) === 0)) {
      out.push({ path: p, problem: `mode ${oct(st.mode)}: group or others may create, rename and delete entries in it`, fix: `chmod go-w ${p}${first ? '' : ' (or move the file to a directory only root can write)'}` });
    }
    if (dirname(p) === p) break;
  }
  return out;
}

/** A one-line refusal naming the first problem and its fix (exit 5). */
function refuse(what: string, problems: PathProblem[]): RaptorError {
  const p = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more: raptor host check lists them)` : '';
  return notAllowed(`refusing to use ${what}: ${p.path} ${p.problem}${more}; fix: ${p.fix}`);
}

/** Create `dir` (mode `mode`, owned by us) if missing, then refuse it unless dirProblems is empty. */
export function ensureSafeDir(dir: string, mode: number, what: string): void {
  const missing: string[] = [];
  for (let p = dir; ; p = dirname(p)) {
    try {
      lstatSync(p);
      break;
    } catch (err) {
      if (errCode(err) !== 'ENOENT') break;
      missing.unshift(p);
      if (dirname(p) === p) break;
    }
  }
  for (const p of missing) {
    try {
      mkdirSync(p, { mode });
      chmodSync(p, mode); // the umask must not decide who may enter
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw notAllowed(`cannot create ${p} for ${what}: ${errCode(err) ?? (err as Error).message}${ownerUid() !== 0 ? ' (run it as root: sudo raptor …)' : ''}`);
    }
  }
  const problems = dirProblems(dir);
  if (problems.length) throw refuse(what, problems);
}

/** Mode bits beyond `maxMode`, for a file or a directory. */
function modeProblems(path: string, st: Stats, maxMode: number): PathProblem[] {
  return (st.mode & 0o7777 & ~maxMode) !== 0 ? [{ path, problem: `has mode ${oct(st.mode)} (at most ${oct(maxMode)})`, fix: `chmod ${oct(maxMode)} ${path}` }] : [];
}

/**
 * Everything wrong with one of raptor's paths as host check sees it (`st` from lstat, absent when
 * missing): a directory by dirProblems and its mode; a file by its own problems and, unless
 * another package owns the directory, the directory's.
 */
export function trustedPathProblems(path: string, st: Stats | undefined, opts: { maxMode: number; isDir?: boolean; dirIsOthers?: boolean }): PathProblem[] {
  if (opts.isDir) return st ? [...dirProblems(path), ...modeProblems(path, st, opts.maxMode)] : [];
  const dir = existsSync(dirname(path)) && !opts.dirIsOthers ? dirProblems(dirname(path)) : [];
  if (!st) return dir;
  if (st.isSymbolicLink()) return [...dir, { path, problem: 'is a symbolic link', fix: `replace ${path} by a file` }];
  return [...dir, ...fileProblems(path, st, opts.maxMode)];
}

/** What is wrong with a file raptor keeps (wrong owner, modes beyond `maxMode`, links), or []. */
export function fileProblems(path: string, st: Stats, maxMode: number): PathProblem[] {
  const out: PathProblem[] = [];
  const me = ownerUid();
  if (!st.isFile()) out.push({ path, problem: 'is not a regular file', fix: `remove ${path}` });
  if (st.uid !== me) out.push({ path, problem: `is owned by uid ${st.uid}, not ${me}`, fix: `chown ${me === 0 ? 'root:root' : me} ${path}` });
  out.push(...modeProblems(path, st, maxMode));
  if (st.nlink > 1) out.push({ path, problem: `has ${st.nlink} hard links: someone else may hold another name for it`, fix: `remove ${path} (raptor makes a new one)` });
  return out;
}

/** How a file looks now, for host check: owner, group, mode, or that it is missing. */
export function describeFile(path: string): { exists: boolean; text: string; st?: Stats } {
  try {
    const st = lstatSync(path);
    const kind = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'special file';
    return { exists: true, st, text: `${kind} owner uid ${st.uid} gid ${st.gid} mode ${oct(st.mode)}` };
  } catch (err) {
    return { exists: false, text: errCode(err) === 'ENOENT' ? 'missing (created on first use)' : `cannot look at it (${errCode(err)})` };
  }
}

/**
 * Open a file raptor keeps without following a symlink at its name, creating it with `mode`.
 * A file that is loose (fileProblems) is refused (exit 5) with the fix, unless `tighten` is set:
 * then modes are narrowed in place and `onRepair` says so (for append-only logs, where keeping the
 * content matters more than the inode).
 */
export function openTrusted(path: string, opts: { flags: number; mode: number; maxMode: number; what: string; dirMode?: number; tighten?: boolean; onRepair?: (msg: string) => void }): number {
  ensureSafeDir(dirname(path), opts.dirMode ?? 0o755, opts.what);
  let fd: number;
  try {
    fd = openSync(path, opts.flags | constants.O_NOFOLLOW, opts.mode);
  } catch (err) {
    if (errCode(err) === 'ELOOP') throw notAllowed(`refusing to use ${opts.what}: ${path} is a symbolic link; fix: remove it (raptor makes the file)`);
    throw notAllowed(`cannot open ${opts.what} ${path}: ${errCode(err) ?? (err as Error).message}${ownerUid() !== 0 ? ' (run it as root: sudo raptor …)' : ''}`);
  }
  try {
    const st = fstatSync(fd);
    let problems = fileProblems(path, st, opts.maxMode);
    if (problems.length && opts.tighten && st.isFile() && st.uid === ownerUid() && st.nlink === 1) {
      chmodSync(path, st.mode & opts.maxMode);
      opts.onRepair?.(`${opts.what} ${path} had mode ${oct(st.mode)}; now ${oct(st.mode & opts.maxMode)}`);
      problems = fileProblems(path, fstatSync(fd), opts.maxMode);
    }
    if (problems.length) throw refuse(opts.what, problems);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * Replace `path` with `data` atomically: a new file beside it (mode `mode`, never following a
 * planted name), synced, renamed over, directory synced. Readers see the old or the new file.
 */
export function writeTrustedAtomic(path: string, data: string, mode: number, what: string): void {
  const dir = dirname(path);
  ensureSafeDir(dir, 0o700, what);
  const tmp = join(dir, `.${basename(path)}.raptor-${process.pid}-${Date.now()}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw err;
  }
  const dfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
