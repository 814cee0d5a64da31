// The host lock: one raptor process changes the host at a time; others queue behind it.
// flock(1) locks our own open file description (handed over as its fd 3), so the lock lives
// exactly as long as this process holds the file open: the kernel releases it even after SIGKILL.
// flock works on a read-only descriptor, so whoever can open the file can hold the lock: the file
// is 0600, owned by root, in a directory only root can write. A file someone else could have
// opened (loose modes from an older raptor, another owner, extra hard links) is replaced by a new
// inode before use, so a descriptor opened earlier locks nothing that matters.
import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
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

export async function acquireHostLock(path: string, opts: { timeoutS: number; onWait?: () => void; onRepair?: (msg: string) => void; run?: Runner }): Promise<HostLock> {
  const run = opts.run ?? runCommand;
  ensureSafeDir(dirname(path), 0o755, 'the host lock');
  for (let attempt = 0; attempt < 10; attempt++) {
    const fd = openLock(path);
    let keep = false;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw notAllowed(`refusing to use the host lock: ${path} is not a regular file; fix: remove it (raptor makes the file)`);
      const problems = fileProblems(path, st, LOCK_MODE);
      if (problems.length) {
        replaceLoose(path, st.ino);
        opts.onRepair?.(`the host lock ${path} ${problems.map((p) => p.problem).join(', ')}: replaced by a new 0600 file only root can open`);
        continue;
      }
      const flock = async (args: string[]) => (await run(['flock', ...args, '3'], { fd3: fd, okCodes: [0, 1] })).code;
      if ((await flock(['--exclusive', '--nonblock'])) !== 0) {
        opts.onWait?.();
        if ((await flock(['--exclusive', '--timeout', String(opts.timeoutS)])) !== 0) {
          throw new RaptorError('conflict', `another raptor process holds the host lock ${path} (waited ${opts.timeoutS} s)`);
        }
      }
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
