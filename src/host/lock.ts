// The host lock: one raptor process changes the host at a time; others queue behind it.
// flock(1) locks our own open file description (handed over as its fd 3), so the lock lives
// exactly as long as this process holds the file open: the kernel releases it even after SIGKILL.
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RaptorError } from '../core/errors.ts';
import { runCommand, type Runner } from './runner.ts';

export interface HostLock {
  release(): void;
}

export async function acquireHostLock(path: string, opts: { timeoutS: number; onWait?: () => void; run?: Runner }): Promise<HostLock> {
  const run = opts.run ?? runCommand;
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a+', 0o644);
  const flock = async (args: string[]) => (await run(['flock', ...args, '3'], { fd3: fd, okCodes: [0, 1] })).code;
  try {
    if ((await flock(['--exclusive', '--nonblock'])) !== 0) {
      opts.onWait?.();
      if ((await flock(['--exclusive', '--timeout', String(opts.timeoutS)])) !== 0) {
        throw new RaptorError('conflict', `another raptor process holds the host lock ${path} (waited ${opts.timeoutS} s)`);
      }
    }
  } catch (err) {
    closeSync(fd);
    throw err;
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
