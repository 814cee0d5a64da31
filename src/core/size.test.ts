import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSize, parseSize } from './size.ts';
import { RaptorError } from './errors.ts';

test('binary units', () => {
  assert.equal(parseSize('512M'), 512 * 2 ** 20);
  assert.equal(parseSize('8G'), 8 * 2 ** 30);
  assert.equal(parseSize('8GiB'), 8 * 2 ** 30);
  assert.equal(parseSize('8gib'), 8 * 2 ** 30);
  assert.equal(parseSize('1T'), 2 ** 40);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('1024K'), 2 ** 20);
});

test('zero, negatives, garbage and overflow are refused', () => {
  for (const bad of ['0', '0G', '-1G', '1.5G', 'G', '', 'ten', '8X', '8 G B', '99999999P', '9007199254740993']) {
    assert.throws(() => parseSize(bad, 'disk size'), (e: unknown) => e instanceof RaptorError && e.kind === 'bad-input' && /disk size/.test(e.message), bad);
  }
});

test('formatSize', () => {
  assert.equal(formatSize(2 ** 30), '1 GiB');
  assert.equal(formatSize(1536 * 2 ** 20), '1.5 GiB');
  assert.equal(formatSize(100), '100 B');
});
