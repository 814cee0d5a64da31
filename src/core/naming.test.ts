import { test } from 'node:test';
import assert from 'node:assert/strict';
import { artifactNames, hostNameProblem, parseVmId, tryParseVmId, validateHostName, validateUser, vmIdFromLvName } from './naming.ts';
import { isRaptorError, RaptorError } from './errors.ts';

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

test('a new VM id must be an RFC 1123 host name, and its FQDN too when DNS is on', () => {
  const refused = (vm: { user: string; name: string }, zone: string | undefined, re: RegExp) =>
    assert.throws(() => validateHostName(vm, zone), (e: unknown) => isRaptorError(e, 'bad-input') && re.test((e as Error).message));
  validateHostName({ user: 'alice', name: 'web' }, 'raptor.test');
  validateHostName({ user: 'alice', name: 'web' }, undefined);
  // "_" is allowed in a user name (accounts may have it), but then no VM id is a host name
  refused({ user: 'a_b', name: 'web' }, 'raptor.test', /invalid VM id "a_b-web": .*RFC 1123/);
  refused({ user: 'a_b', name: 'web' }, undefined, /RFC 1123/);
  refused({ user: '_svc', name: 'web' }, undefined, /RFC 1123/);
  const id63 = { user: 'u', name: 'x'.repeat(61) };
  validateHostName(id63, 'raptor.test');
  const zone = Array.from({ length: 4 }, () => 'z'.repeat(60)).join('.'); // 243 characters
  refused(id63, zone, /its DNS name .* is no valid host name: 307 characters, at most 253 allowed/);
  validateHostName({ user: 'u', name: 'v' }, `${'z'.repeat(63)}.${'z'.repeat(63)}.${'z'.repeat(63)}.${'z'.repeat(57)}`);
  refused({ user: 'u', name: 'vw' }, `${'z'.repeat(63)}.${'z'.repeat(63)}.${'z'.repeat(63)}.${'z'.repeat(57)}`, /254 characters/);
});

test('hostNameProblem names the reason', () => {
  assert.equal(hostNameProblem('alice-web.raptor.test'), undefined);
  assert.equal(hostNameProblem('alice-web.raptor.test.'), undefined);
  assert.match(hostNameProblem('a..b')!, /empty label/);
  assert.match(hostNameProblem(`${'a'.repeat(64)}.test`)!, /64 characters, at most 63/);
  assert.match(hostNameProblem('-a.test')!, /label "-a"/);
  assert.match(hostNameProblem('a_b.test')!, /label "a_b"/);
  assert.match(hostNameProblem('')!, /empty/);
});

test('echoed ids are escaped and cut: a newline never breaks the message', () => {
  for (const id of ['alice-web\nraptor: fake second line', 'alice-\u001b[31mred', `alice-${'x'.repeat(5000)}`, 'al\nice-web']) {
    assert.throws(
      () => parseVmId(id),
      (e: unknown) => isRaptorError(e, 'bad-input') && !(e as Error).message.includes('\n') && !(e as Error).message.includes('\u001b') && (e as Error).message.length < 400,
      JSON.stringify(id),
    );
  }
});
