import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, macForBridge, parseConfigText } from './config.ts';
import { RaptorError } from './errors.ts';

test('defaults describe the real raptor host', () => {
  const c = defaultConfig();
  assert.equal(c.storage.vg, 'lvm-data');
  assert.deepEqual(c.bridges.map((b) => [b.name, b.mac]), [1, 2, 3, 4, 5].map((n) => [`br-vm${n}`, `52:54:00:00:00:0${n}`]));
  assert.equal(c.firmware.code, '/run/libvirt/nix-ovmf/OVMF_CODE.fd');
  assert.equal(c.firmware.vars, '/run/libvirt/nix-ovmf/OVMF_VARS.fd');
  assert.equal(c.dns.zone, 'raptor.michai.li');
  assert.deepEqual(c.access.admin_groups, ['libvirt', 'libvirtd', 'wheel']);
  assert.equal(c.access.user_group, 'vm-users');
  assert.equal(c.cpus.reserved, '0-3');
  assert.equal(c.domain_type, 'kvm');
  assert.equal(c.machine, 'q35');
  assert.equal(c.console, 'virtio');
});

test('MAC pattern: {nn} is the bridge number in two hex digits', () => {
  assert.equal(macForBridge('52:54:00:00:00:{nn}', 'br-vm3'), '52:54:00:00:00:03');
  assert.equal(macForBridge('52:54:00:00:00:{nn}', 'br-vm12'), '52:54:00:00:00:0c');
  assert.equal(macForBridge('52:54:00:00:00:{nn}', 'lan'), undefined);
});

const bad = (text: string, re: RegExp) =>
  assert.throws(() => parseConfigText(text, 'test.toml'), (e: unknown) => e instanceof RaptorError && e.kind === 'bad-input' && re.test(e.message), text);

test('unknown keys and wrong types name the key path', () => {
  bad('colour = "red"', /test\.toml: colour: unknown key/);
  bad('[storage]\nvgg = "x"', /storage\.vgg: unknown key/);
  bad('[dns]\nport = "53"', /dns\.port: expected a number/);
  bad('domain_type = "xen"', /domain_type/);
  bad('[[bridges]]\nname = "br0"\nmac = "zz"', /bridges\.0\.mac/);
  bad('[[bridges]]\nname = "lan"', /bridges\.0\.mac: no MAC given/);
  bad('[[bridges]]\nname = "br-vm1"\n[[bridges]]\nname = "br-vm1"', /br-vm1 appears twice/);
  bad('[cpus]\nreserved = "0-3,x"', /cpus\.reserved/);
  bad('this is = not toml', /not valid TOML/);
});

test('a partial config keeps the other defaults', () => {
  const c = parseConfigText('domain_type = "qemu"\n[dns]\nport = 5353\n[[bridges]]\nname = "br-vm2"\nipv4 = "198.51.100.12"', 't');
  assert.equal(c.domain_type, 'qemu');
  assert.equal(c.dns.port, 5353);
  assert.equal(c.dns.zone, 'raptor.michai.li');
  assert.deepEqual(c.bridges, [{ name: 'br-vm2', mac: '52:54:00:00:00:02', ipv4: '198.51.100.12' }]);
});

test('[[images]] and [[flavors]]: strict, names unique, sizes checked', () => {
  const c = parseConfigText('[[images]]\nname = "debian-12"\npath = "/var/cache/d.raw"\nformat = "raw"\n[[flavors]]\nname = "small"\ncpus = 1\nmemory = "1G"\ndisk = "2G"\n', 't');
  assert.deepEqual(c.images, [{ name: 'debian-12', path: '/var/cache/d.raw', format: 'raw' }]);
  assert.deepEqual(c.flavors, [{ name: 'small', cpus: 1, memory: '1G', disk: '2G' }]);
  assert.equal(c.seed_dir, '/var/lib/raptor/seeds');
  bad('[[images]]\nname = "a"\npath = "/a"\nformat = "vmdk"\n', /images\.0\.format/);
  bad('[[images]]\nname = "a"\npath = "rel/a"\nformat = "raw"\n', /images\.0\.path: an absolute path/);
  bad('[[images]]\nname = "../a"\npath = "/a"\nformat = "raw"\n', /images\.0\.name/);
  bad('[[images]]\nname = "a"\npath = "/a"\nformat = "raw"\nextra = 1\n', /images\.0\.extra: unknown key/);
  bad('[[images]]\nname = "a"\npath = "/a"\nformat = "raw"\n[[images]]\nname = "a"\npath = "/b"\nformat = "raw"\n', /images: a appears twice/);
  bad('[[flavors]]\nname = "x"\ncpus = 1\nmemory = "lots"\ndisk = "2G"\n', /flavors\.0\.memory/);
  bad('[[flavors]]\nname = "x"\ncpus = 0\nmemory = "1G"\ndisk = "2G"\n', /flavors\.0\.cpus/);
});

test('numeric keys are bounded, and the error names the key (never the value found)', () => {
  bad('[dns]\nttl = 99999999999', /^test\.toml: dns\.ttl: must be at most 2147483647$/);
  bad('[dns]\nttl = 2147483648', /dns\.ttl: must be at most 2147483647/);
  bad('[dns]\nttl = -1', /dns\.ttl: must be at least 0/);
  bad('[dns]\nttl = 300.5', /dns\.ttl: expected a whole number|dns\.ttl/);
  bad('[dns]\nttl = inf', /dns\.ttl/);
  bad('[dns]\nttl = nan', /dns\.ttl/);
  bad('[dns]\nport = 0', /dns\.port: must be at least 1/);
  bad('[dns]\nport = 65536', /dns\.port: must be at most 65535/);
  bad('shutdown_timeout_s = 0', /shutdown_timeout_s: must be at least 1/);
  bad('shutdown_timeout_s = 1e300', /shutdown_timeout_s: must be at most 3600/);
  bad('[storage]\nwipe_step = "lots"', /storage\.wipe_step: a size/);
  bad('[storage]\nwipe_step = "99999P"', /storage\.wipe_step: a size/);
  bad('[cpus]\nreserved = "0-99999999999"', /cpus\.reserved: CPU numbers from 0 to 65535/);
  bad('[cpus]\nemulator = "7-3"', /cpus\.emulator/);
  bad('a = 99999999999999999999', /not valid TOML: .*losslessly/);
  assert.equal(parseConfigText('[dns]\nttl = 2147483647', 't').dns.ttl, 2147483647);
  assert.equal(parseConfigText('[dns]\nttl = 0', 't').dns.ttl, 0);
  assert.equal(parseConfigText('shutdown_timeout_s = 3600', 't').shutdown_timeout_s, 3600);
});

test('zones must be domain names; enum errors list the choices, not what was found', () => {
  bad('[dns]\nzone = "bad_zone.test"', /dns\.zone: a domain name/);
  bad('[dns]\nzone = "a..b"', /dns\.zone/);
  bad(`[dns]\nzone = "${'a'.repeat(64)}.test"`, /dns\.zone/);
  bad('[dns]\nreverse_zones = ["100.51.198.in-addr.arpa", "x y"]', /dns\.reverse_zones\.1: a domain name/);
  assert.deepEqual(parseConfigText('[dns]\nreverse_zones = ["0/25.100.51.198.in-addr.arpa"]', 't').dns.reverse_zones, ['0/25.100.51.198.in-addr.arpa']);
  assert.throws(
    () => parseConfigText('domain_type = "S3CRET"', 'test.toml'),
    (e: unknown) => e instanceof RaptorError && /^test\.toml: domain_type: must be one of "kvm", "qemu"$/.test(e.message) && !e.message.includes('S3CRET'),
  );
});
