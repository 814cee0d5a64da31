import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateBridge } from './bridges.ts';
import { defaultConfig } from './config.ts';
import { RaptorError } from './errors.ts';

const pool = defaultConfig().bridges;

test('lowest free bridge, or the requested one', () => {
  assert.equal(allocateBridge(pool, new Set()).name, 'br-vm1');
  assert.equal(allocateBridge(pool, new Set(['br-vm1', 'br-vm2'])).mac, '52:54:00:00:00:03');
  assert.equal(allocateBridge(pool, new Set(['br-vm1']), 'br-vm5').name, 'br-vm5');
});

test('taken, unknown, exhausted', () => {
  assert.throws(() => allocateBridge(pool, new Set(['br-vm2']), 'br-vm2'), (e: unknown) => e instanceof RaptorError && e.kind === 'conflict');
  assert.throws(() => allocateBridge(pool, new Set(), 'virbr0'), (e: unknown) => e instanceof RaptorError && e.kind === 'bad-input' && /br-vm1, br-vm2/.test(e.message));
  assert.throws(() => allocateBridge(pool, new Set(pool.map((b) => b.name))), (e: unknown) => e instanceof RaptorError && e.kind === 'conflict' && /no free bridge/.test(e.message));
});
