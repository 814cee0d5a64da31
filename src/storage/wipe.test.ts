import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyZeroes, type WipeProgress } from './wipe.ts';

const MiB = 1024 * 1024;

test('verifyZeroes (async reads): counts what it checked, reports progress, names the first non-zero byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-wipe-'));
  try {
    const path = join(dir, 'dev');
    const bytes = Buffer.alloc(10 * MiB);
    writeFileSync(path, bytes);
    const seen: WipeProgress[] = [];
    const full = verifyZeroes(path, bytes.length, { verify: 'full', onProgress: (p) => seen.push(p) });
    assert.ok(full instanceof Promise, 'it does not block the event loop');
    assert.equal(await full, bytes.length);
    assert.deepEqual(seen.at(-1), { done: bytes.length, total: bytes.length, phase: 'verify' });
    // samples: the first and last 64 KiB and 64 between, each 64 KiB
    assert.equal(await verifyZeroes(path, bytes.length, { verify: 'sample' }), 66 * 64 * 1024);
    bytes[6 * MiB + 5] = 1;
    writeFileSync(path, bytes);
    await assert.rejects(verifyZeroes(path, bytes.length, { verify: 'full' }), new RegExp(`byte at offset ${6 * MiB + 5} is not zero after wiping`));
    bytes[bytes.length - 1] = 7;
    bytes[6 * MiB + 5] = 0;
    writeFileSync(path, bytes);
    await assert.rejects(verifyZeroes(path, bytes.length, { verify: 'sample' }), new RegExp(`byte at offset ${bytes.length - 1} is not zero`));
    await assert.rejects(verifyZeroes(path, bytes.length + MiB, { verify: 'full' }), /short read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
