// vm create --image and --wait-for: the image goes onto the LV before the domain exists; an image
// larger than the disk is bad input before any change; a wait that times out says what it saw.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, truncateSync, writeFileSync } from 'node:fs';
import { cleanup, hostSnapshot, loadTestConfig, raptor, readBytes, testConfigPath } from './lib/raptor.ts';

const cfgPath = testConfigPath();
const config = loadTestConfig(cfgPath);
const VM = 'imgt-vm';
const small = '/run/raptor-sandbox/imgt-small.raw';
const big = '/run/raptor-sandbox/imgt-big.raw';
const r = (args: string[]) => raptor(args, { config: cfgPath });

before(() => {
  cleanup(config, [VM]);
  const marker = Buffer.alloc(1024 * 1024, 0x5a);
  writeFileSync(small, marker);
  truncateSync(small, 8 * 1024 * 1024);
  writeFileSync(big, '');
  truncateSync(big, 64 * 1024 * 1024);
});
after(() => {
  cleanup(config, [VM]);
  rmSync(small, { force: true });
  rmSync(big, { force: true });
});

test('an image larger than the disk is refused (exit 2) before any change', async () => {
  const before = hostSnapshot(config);
  const out = await r(['vm', 'create', VM, '--cpus', '1', '--memory', '128M', '--disk', '32M', '--no-network', '--image', big]);
  assert.equal(out.code, 2, out.stderr);
  assert.match(out.stderr, /image .*imgt-big\.raw is 64 MiB, larger than the 32 MiB disk/);
  assert.equal(hostSnapshot(config), before);
  const missing = await r(['vm', 'create', VM, '--cpus', '1', '--memory', '128M', '--disk', '32M', '--no-network', '--image', '/nonexistent.img']);
  assert.equal(missing.code, 2);
  assert.equal(hostSnapshot(config), before);
});

test('the image is on the LV; a --wait-for that never matches times out with the last console lines', async () => {
  const out = await r(['vm', 'create', VM, '--cpus', '1', '--memory', '128M', '--disk', '32M', '--no-network', '--image', small, '--start', '--wait-for', 'never-printed', '--timeout', '5']);
  assert.equal(out.code, 1, out.stderr);
  assert.match(out.stderr, /timed out after 5 s waiting for \/never-printed\/ on the console of imgt-vm; last console lines:/);
  const disk = readBytes(`/dev/${config.storage.vg}/guest-${VM}`, 0, 1024 * 1024);
  assert.ok(disk.every((b) => b === 0x5a), 'the image bytes are on the volume');
  const log = await r(['vm', 'console', VM, '--log', '--json']);
  assert.equal(log.code, 0, log.stderr);
  assert.equal(typeof (log.json as { log: string }).log, 'string');
  const d = await r(['vm', 'destroy', VM, '--yes']);
  assert.equal(d.code, 0, d.stderr);
});
