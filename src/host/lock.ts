// The host lock: one raptor process changes the host at a time; others queue behind it.
// flock(1) locks our own open file description (passed as fd 3), so the lock lives exactly as
// long as this process holds the file open: released by the kernel even after SIGKILL.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RaptorError } from '../core/errors.ts';

export interface HostLock {
  release(): void;
}

function flock(fd: number, args: string[]): number | null {
  const r = spawnSync('flock', [...args, '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
  if (r.error) throw new RaptorError('unexpected', `cannot run flock: ${r.error.message}`);
  return r.status;
}

export function acquireHostLock(path: string, opts: { timeoutS: number; onWait?: () => void }): HostLock {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a+', 0o644);
  if (flock(fd, ['--exclusive', '--nonblock']) !== 0) {
    opts.onWait?.();
    if (flock(fd, ['--exclusive', '--timeout', String(opts.timeoutS)]) !== 0) {
      closeSync(fd);
      throw new RaptorError('conflict', `another raptor process holds the host lock ${path} (waited ${opts.timeoutS} s)`);
    }
  }
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch {
    // the pid is a courtesy for humans; the lock is the flock
  }
  return {
    release() {
      closeSync(fd);
    },
  };
}
