// The sign-in rate limiter: a sliding minute per key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from './rate-limit.ts';

test('the rate limiter allows perMinute hits a minute per key', () => {
  let now = 0;
  const rl = new RateLimiter(2, () => now);
  assert.deepEqual([rl.hit('a'), rl.hit('a'), rl.hit('a'), rl.hit('b')], [true, true, false, true]);
  now = 60_001;
  assert.equal(rl.hit('a'), true);
});
