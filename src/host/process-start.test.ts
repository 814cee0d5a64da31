import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processStartMs } from './process-start.ts';

test('processStartMs: this process started when node says it did', () => {
  const start = processStartMs(process.pid)!;
  const expected = Date.now() - process.uptime() * 1000;
  assert.ok(Math.abs(start - expected) < 2000, `${start} vs ${expected}`);
  assert.equal(processStartMs(2 ** 22 + 7), undefined, 'no such process');
});
