import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireHostLock } from './lock.ts';
import { isRaptorError } from '../core/errors.ts';
import { dirProblems } from './trusted-files.ts';
import { appendAudit, prepareAuditLog } from './audit.ts';

const scratch = (): string => mkdtempSync(join(tmpdir(), 'raptor-lock-'));

test('the lock file is made 0600 in a directory made 0755, and holds our pid', async () => {
  const dir = scratch();
  try {
    const path = join(dir, 'run', 'raptor', 'raptor.lock');
    const lock = await acquireHostLock(path, { timeoutS: 1 });
    assert.equal(statSync(path).mode & 0o7777, 0o600);
    assert.equal(statSync(join(dir, 'run', 'raptor')).mode & 0o7777, 0o755);
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`);
    lock.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock file left 0644 (older raptor) is replaced by a new 0600 inode before it is locked', async () => {
  const dir = scratch();
  try {
    const path = join(dir, 'raptor.lock');
    writeFileSync(path, '123\n', { mode: 0o644 });
    chmodSync(path, 0o644);
    const oldIno = statSync(path).ino;
    const notes: string[] = [];
    const lock = await acquireHostLock(path, { timeoutS: 1, onRepair: (m) => notes.push(m) });
    const st = statSync(path);
    assert.equal(st.mode & 0o7777, 0o600);
    assert.notEqual(st.ino, oldIno);
    assert.match(notes.join('\n'), /has mode 0644 \(at most 0600\).*replaced by a new 0600 file/);
    lock.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock file with a second hard link is replaced too', async () => {
  const dir = scratch();
  try {
    const path = join(dir, 'raptor.lock');
    writeFileSync(path, '', { mode: 0o600 });
    linkSync(path, join(dir, 'other-name'));
    const lock = await acquireHostLock(path, { timeoutS: 1 });
    assert.equal(statSync(path).nlink, 1);
    lock.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a symlink at the lock path, or a directory others can write, is refused (exit 5) and left alone', async () => {
  const dir = scratch();
  try {
    const target = join(dir, 'elsewhere');
    writeFileSync(target, 'keep');
    const link = join(dir, 'raptor.lock');
    symlinkSync(target, link);
    await assert.rejects(acquireHostLock(link, { timeoutS: 1 }), (e) => isRaptorError(e, 'not-allowed') && /is a symbolic link/.test(e.message));
    assert.equal(readFileSync(target, 'utf8'), 'keep');

    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    await assert.rejects(acquireHostLock(join(open, 'raptor.lock'), { timeoutS: 1 }), (e) => isRaptorError(e, 'not-allowed') && /mode 0777: group or others may create.*fix: chmod go-w/.test(e.message));
    const sticky = join(dir, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    // sticky is fine above the directory, not for the directory itself
    assert.equal(dirProblems(sticky).length, 1);
    mkdirSync(join(sticky, 'own'), { mode: 0o755 });
    assert.deepEqual(dirProblems(join(sticky, 'own')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second process queues behind the lock; release lets it in', async () => {
  const dir = scratch();
  try {
    const path = join(dir, 'raptor.lock');
    const first = await acquireHostLock(path, { timeoutS: 1 });
    let waited = false;
    await assert.rejects(acquireHostLock(path, { timeoutS: 1, onWait: () => (waited = true) }), (e) => isRaptorError(e, 'conflict'));
    assert.ok(waited);
    first.release();
    (await acquireHostLock(path, { timeoutS: 1 })).release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('audit log: created 0640, a 0666 one is narrowed, a symlink is refused', () => {
  const dir = scratch();
  try {
    const log = join(dir, 'log', 'audit.jsonl');
    appendAudit(log, { user: 'root', uid: 0, gid: 0, groups: ['root'], via: 'cli' }, { command: 'x', result: 'ok' });
    assert.equal(statSync(log).mode & 0o7777, 0o640);
    assert.equal(statSync(join(dir, 'log')).mode & 0o7777, 0o750);
    chmodSync(log, 0o666);
    const notes: string[] = [];
    prepareAuditLog(log, (m) => notes.push(m));
    assert.equal(statSync(log).mode & 0o7777, 0o640);
    assert.match(notes[0]!, /had mode 0666; now 0640/);
    const link = join(dir, 'log', 'link.jsonl');
    symlinkSync(join(dir, 'victim'), link);
    assert.throws(() => prepareAuditLog(link), (e) => isRaptorError(e, 'not-allowed') && /symbolic link/.test(e.message));
    assert.equal(readFileSync(log, 'utf8').split('\n').filter(Boolean).length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
