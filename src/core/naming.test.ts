import { test } from 'node:test';
import assert from 'node:assert/strict';
import { artifactNames, parseVmId, tryParseVmId, validateUser, vmIdFromLvName } from './naming.ts';
import { RaptorError } from './errors.ts';

const badInput = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof RaptorError && e.kind === 'bad-input' && re.test(e.message));

test('USER-NAME splits at the first dash', () => {
  assert.deepEqual(parseVmId('alice-web'), { user: 'alice', name: 'web' });
  assert.deepEqual(parseVmId('alice-bob-db'), { user: 'alice', name: 'bob-db' });
  assert.deepEqual(parseVmId('_svc-x1'), { user: '_svc', name: 'x1' });
});

test('bad ids are refused with what is allowed', () => {
  badInput(() => parseVmId('alice'), /expected USER-NAME/);
  badInput(() => parseVmId('-web'), /expected USER-NAME/);
  badInput(() => parseVmId('alice-'), /expected USER-NAME/);
  badInput(() => parseVmId('Alice-web'), /invalid user "Alice"/);
  badInput(() => parseVmId('1alice-web'), /invalid user/);
  badInput(() => parseVmId('alice-web-'), /DNS label/);
  badInput(() => parseVmId('alice-We'), /DNS label/);
  badInput(() => parseVmId('alice-w_b'), /DNS label/);
  badInput(() => parseVmId(`alice-${'a'.repeat(58)}`), /at most 63/);
  assert.equal(parseVmId(`alice-${'a'.repeat(57)}`).name.length, 57);
  badInput(() => validateUser('a'.repeat(33)), /1-32/);
  assert.equal(validateUser('a'.repeat(32)), 'a'.repeat(32));
});

test('every artifact name comes from the one authority', () => {
  const n = artifactNames({ user: 'alice', name: 'web' }, { vg: 'lvm-data', nvramDir: '/var/lib/libvirt/qemu/nvram/', zone: 'raptor.michai.li.', consoleLogDir: '/var/log/libvirt/qemu', seedDir: '/var/lib/raptor/seeds/' });
  assert.deepEqual(n, {
    domain: 'alice-web',
    lv: 'guest-alice-web',
    lvPath: '/dev/lvm-data/guest-alice-web',
    nvram: '/var/lib/libvirt/qemu/nvram/alice-web_VARS.fd',
    fqdn: 'alice-web.raptor.michai.li',
    account: 'alice',
    consoleLog: '/var/log/libvirt/qemu/alice-web-console.log',
    seed: '/var/lib/raptor/seeds/alice-web-cidata.img',
  });
  assert.deepEqual(vmIdFromLvName('guest-bob-db'), { user: 'bob', name: 'db' });
  assert.equal(vmIdFromLvName('root'), undefined);
  assert.equal(tryParseVmId('ubuntu22.04'), undefined);
});
