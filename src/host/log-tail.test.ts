import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogTail } from './log-tail.ts';

test('LogTail reads only what was added; a truncation or a new file starts over; a missing file reads as nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-tail-'));
  const path = join(dir, 'console.log');
  const tail = new LogTail(path);
  try {
    assert.equal(await tail.read(), '', 'not there yet');
    writeFileSync(path, 'first line\nsecond');
    assert.equal(await tail.read(), 'first line\nsecond');
    assert.equal(await tail.read(), '', 'nothing new');
    appendFileSync(path, ' half\n');
    assert.equal(await tail.read(), ' half\n', 'only the new bytes');
    // a multi-byte character split across two writes comes out whole
    const snow = Buffer.from('☃\n');
    appendFileSync(path, snow.subarray(0, 1));
    assert.equal(await tail.read(), '');
    appendFileSync(path, snow.subarray(1));
    assert.equal(await tail.read(), '☃\n');
    truncateSync(path, 0);
    appendFileSync(path, 'after truncate\n');
    assert.equal(await tail.read(), 'after truncate\n', 'truncated: read from the start');
    // virtlogd on a restart: a new file at the path, possibly longer than the old one
    const fresh = join(dir, 'new.log');
    writeFileSync(fresh, 'boot again\n'.repeat(10));
    renameSync(fresh, path);
    assert.equal(await tail.read(), 'boot again\n'.repeat(10), 'recreated: the new file from its start');
    rmSync(path);
    assert.equal(await tail.read(), '', 'removed: nothing');
    writeFileSync(path, 'back\n');
    assert.equal(await tail.read(), 'back\n');
  } finally {
    await tail.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
