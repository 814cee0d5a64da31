import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDomstatsState, virshQuote } from './virsh.ts';

test('domstats --state output becomes names and states', () => {
  const out = "Domain: 'alice-web'\n  state.state=1\n  state.reason=1\n\nDomain: 'it''s'\n  state.state=5\n  state.reason=0\n\nDomain: 'bob-db'\n  state.state=3\n  state.reason=1\n";
  assert.deepEqual(parseDomstatsState(out), [
    { name: 'alice-web', state: 'running' },
    { name: "it''s", state: 'shut off' },
    { name: 'bob-db', state: 'paused' },
  ]);
  assert.deepEqual(parseDomstatsState(''), []);
});

test('virsh arguments are quoted for its own parser', () => {
  assert.equal(virshQuote('alice-web'), 'alice-web');
  assert.equal(virshQuote("a b'c"), `'a b'\\''c'`);
});
