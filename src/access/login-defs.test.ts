import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_UID_RANGE, isSystemUid, parseLoginDefs } from './login-defs.ts';

test('UID_MIN/UID_MAX from login.defs; comments and other keys ignored', () => {
  const r = parseLoginDefs('# UID_MIN 5\nSYS_UID_MIN 100\nUID_MIN\t\t 2000\nUID_MAX 0x7530\n');
  assert.equal(r.uidMin, 2000);
  assert.equal(r.uidMax, 30000);
  assert.equal(parseLoginDefs('').uidMin, 1000);
  assert.equal(parseLoginDefs('UID_MIN 0\n'), DEFAULT_UID_RANGE);
  assert.equal(parseLoginDefs('UID_MIN 5000\nUID_MAX 10\n'), DEFAULT_UID_RANGE);
});

test('system uids: root, below UID_MIN, above UID_MAX, and nobody (65534) even inside the range', () => {
  const r = { uidMin: 1000, uidMax: 70000, source: 't' };
  for (const uid of [0, 1, 999, 65534, 70001]) assert.ok(isSystemUid(uid, r), String(uid));
  for (const uid of [1000, 1001, 60000, 70000]) assert.ok(!isSystemUid(uid, r), String(uid));
});
