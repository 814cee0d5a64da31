// The host lock: one raptor process changes the host at a time; others queue behind it.
// flock(1) locks our own open file description (handed over as its fd 3), so the lock lives
// exactly as long as this process holds the file open: the kernel releases it even after SIGKILL.
// flock works on a read-only descriptor, so whoever can open the file can hold the lock: the file
// is 0600, owned by root, in a directory only root can write. A file someone else could have
// opened (loose modes from an older raptor, another owner, extra hard links) is replaced by a new
// inode before use, so a descriptor opened earlier locks nothing that matters (after waiting for
// root processes that hold it: an older raptor still at work).
import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RaptorError, notAllowed } from '../core/errors.ts';
import { runCommand, type Runner } from './runner.ts';
import { ensureSafeDir, fileProblems } from './trusted-files.ts';

export interface HostLock {
  release(): void;
}

const LOCK_MODE = 0o600;
const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

function openLock(path: string): number {
  try {
    return openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, LOCK_MODE);
  } catch (err) {
    if (errCode(err) === 'ELOOP') throw notAllowed(`refusing to use the host lock: ${path} is a symbolic link; fix: rm ${path} (raptor makes the file)`);
    throw notAllowed(`cannot open the host lock ${path}: ${errCode(err) ?? (err as Error).message}; only root may change the host (sudo raptor …)`);
  }
}

/** Put a fresh 0600 file at `path` if it is still the loose inode `ino` (compare-then-rename). */
function replaceLoose(path: string, ino: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.new-${process.pid}`);
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, LOCK_MODE);
  closeSync(fd);
  try {
    // another raptor may have replaced it already: then its file stays
    if (lstatSync(path).ino === ino) renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Processes (other than us) with the file dev:ino open, and their effective uids (as fuser finds them). */
export function openersOf(dev: number, ino: number): { pid: number; uid: number }[] {
  const out: { pid: number; uid: number }[] = [];
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  } catch {
    return out;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    const holds = fds.some((fd) => {
      try {
        const st = statSync(`/proc/${pid}/fd/${fd}`);
        return st.ino === ino && st.dev === dev;
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    try {
      const uid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      out.push({ pid: Number(pid), uid: Number.isFinite(uid) ? uid : -1 });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export async function acquireHostLock(path: string, opts: { timeoutS: number; onWait?: () => void; onRepair?: (msg: string) => void; run?: Runner }): Promise<HostLock> {
  const run = opts.run ?? runCommand;
  ensureSafeDir(dirname(path), 0o755, 'the host lock');
  for (let attempt = 0; attempt < 10; attempt++) {
    const fd = openLock(path);
    let keep = false;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw notAllowed(`refusing to use the host lock: ${path} is not a regular file; fix: remove it (raptor makes the file)`);
      const flock = async (args: string[]) => (await run(['flock', ...args, '3'], { fd3: fd, okCodes: [0, 1] })).code;
      const take = async () => {
        if ((await flock(['--exclusive', '--nonblock'])) === 0) return;
        opts.onWait?.();
        if ((await flock(['--exclusive', '--timeout', String(opts.timeoutS)])) !== 0) {
          throw new RaptorError('conflict', `another raptor process holds the host lock ${path} (waited ${opts.timeoutS} s)`);
        }
      };
      const problems = fileProblems(path, st, LOCK_MODE);
      if (problems.length) {
        // an older raptor (root) may hold the loose file: wait for it; a non-admin holding it open is ignored
        const others = openersOf(st.dev, st.ino).filter((o) => o.uid !== 0);
        if (others.length === 0) await take();
        replaceLoose(path, st.ino);
        const held = others.length ? `; uid ${[...new Set(others.map((o) => o.uid))].join(', ')} (pid ${others.map((o) => o.pid).join(', ')}) had it open` : '';
        opts.onRepair?.(`the host lock ${path} ${problems.map((p) => p.problem).join(', ')}${held}: replaced by a new 0600 file only root can open`);
        continue;
      }
      await take();
      // the name may have been given to a new file while we waited (a loose one replaced): lock that one
      let now;
      try {
        now = lstatSync(path);
      } catch {
        now = undefined;
      }
      if (!now || now.ino !== st.ino || now.dev !== st.dev) continue;
      try {
        ftruncateSync(fd, 0);
        writeSync(fd, `${process.pid}\n`, 0);
      } catch {
        // the pid is a courtesy for humans; the lock is the flock
      }
      keep = true;
      return {
        release() {
          closeSync(fd);
        },
      };
    } finally {
      if (!keep) closeSync(fd);
    }
  }
  throw new RaptorError('unexpected', `the host lock ${path} kept changing under us; is another program replacing it?`);
}
