import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessDrivers, ensurePolkitAccessDriver, hasPolkitAccessDriver } from './libvirt-conf.ts';

const DEBIAN = '# Master libvirt daemon configuration file\n#\n#access_drivers = [ "polkit" ]\nunix_sock_group = "libvirt"\n';

test('a commented-out setting does not count; the line is appended once', () => {
  assert.equal(accessDrivers(DEBIAN), undefined);
  const e = ensurePolkitAccessDriver(DEBIAN);
  assert.ok(e.changed);
  assert.ok(e.text.startsWith(DEBIAN));
  assert.ok(e.text.endsWith('access_drivers = [ "polkit" ]\n'));
  assert.ok(hasPolkitAccessDriver(e.text));
  const again = ensurePolkitAccessDriver(e.text);
  assert.equal(again.changed, false);
  assert.equal(again.text, e.text);
});

test('an existing setting without polkit is replaced in place, other lines untouched', () => {
  const text = 'a = 1\naccess_drivers = [ "nop" ]  # test\nb = 2';
  const e = ensurePolkitAccessDriver(text);
  assert.deepEqual(e.before, ['nop']);
  assert.equal(e.text, 'a = 1\naccess_drivers = [ "polkit" ]\nb = 2');
});

test('multi-line lists and single quotes are read', () => {
  assert.deepEqual(accessDrivers("access_drivers = [\n  'polkit',\n]\n"), ['polkit']);
  assert.equal(ensurePolkitAccessDriver('access_drivers=["polkit"]\n').changed, false);
  assert.equal(ensurePolkitAccessDriver('').text, '\n# Added by `raptor host init`: let polkit rules decide every libvirt API call (raptor host check explains).\naccess_drivers = [ "polkit" ]\n');
});
