import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expiryWarning, isExpired, parseExpiry } from './expiry.ts';
import { RaptorError } from './errors.ts';

const now = new Date('2026-12-01T12:00:00.000Z');
const bad = (e: unknown) => e instanceof RaptorError && e.kind === 'bad-input';

test('expiry: dates, UTC times and durations', () => {
  assert.equal(parseExpiry('2027-03-01', now).toISOString(), '2027-03-01T00:00:00.000Z');
  assert.equal(parseExpiry('2027-03-01T12:30:00Z', now).toISOString(), '2027-03-01T12:30:00.000Z');
  assert.equal(parseExpiry('2027-03-01T12:30:00+02:00', now).toISOString(), '2027-03-01T10:30:00.000Z');
  assert.equal(parseExpiry('90d', now).toISOString(), '2027-03-01T12:00:00.000Z');
  assert.equal(parseExpiry('12h', now).toISOString(), '2026-12-02T00:00:00.000Z');
  assert.equal(parseExpiry('2w', now).toISOString(), '2026-12-15T12:00:00.000Z');
  assert.equal(parseExpiry('30m', now).toISOString(), '2026-12-01T12:30:00.000Z');
  assert.equal(parseExpiry('now', now, { allowNow: true }).toISOString(), now.toISOString());
});

test('expiry: the past, nonsense and impossible dates are bad input', () => {
  for (const t of ['2026-11-30', '2026-12-01T11:59:59Z', 'now', '0d', '-3d', '3 days', '2027-02-30', '2027-13-01', '', '1y', '99999999d', '2027-03-01T12:00']) {
    assert.throws(() => parseExpiry(t, now), bad, t);
  }
});

test('isExpired and the 7-day warning', () => {
  assert.equal(isExpired(null, now), false);
  assert.equal(isExpired('garbage', now), false);
  assert.equal(isExpired('2026-12-01T12:00:00.000Z', now), true);
  assert.equal(isExpired('2026-12-01T12:00:01.000Z', now), false);
  assert.equal(expiryWarning('a-b', '2026-12-20T00:00:00.000Z', now), undefined);
  assert.match(expiryWarning('a-b', '2026-12-05T12:00:00.000Z', now)!, /expires at .* \(in 4 days\)/);
  assert.match(expiryWarning('a-b', '2026-12-01T15:00:00.000Z', now)!, /\(in 3 h\)/);
  assert.match(expiryWarning('a-b', '2026-11-01T00:00:00.000Z', now)!, /expired at .*next raptor vm reap/);
  assert.equal(expiryWarning('a-b', null, now), undefined);
});
