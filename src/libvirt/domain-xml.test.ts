import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseDomainXml, renderDomainXml, specFromParsed, type DomainSpec } from './domain-xml.ts';

const goldenDir = new URL('../../test/golden/', import.meta.url);

export const SAMPLES: Record<string, DomainSpec> = {
  'alice-web': {
    name: 'alice-web',
    uuid: '6f1c7e2a-3b4d-4e5f-8a6b-7c8d9e0f1a2b',
    type: 'kvm',
    memoryMiB: 8192,
    vcpuPins: [4, 5, 6, 7],
    emulatorSet: [6, 7],
    machine: 'pc-q35-9.1',
    firmware: {
      code: '/run/libvirt/nix-ovmf/OVMF_CODE.fd',
      vars: '/run/libvirt/nix-ovmf/OVMF_VARS.fd',
      nvram: '/var/lib/libvirt/qemu/nvram/alice-web_VARS.fd',
    },
    disk: { path: '/dev/lvm-data/guest-alice-web' },
    seed: '/var/lib/raptor/seeds/alice-web-cidata.img',
    network: { bridge: 'br-vm1', mac: '52:54:00:00:00:01' },
    console: 'virtio',
    consoleLog: '/var/log/libvirt/qemu/alice-web-console.log',
    metadata: { owner: 'alice', bridge: 'br-vm1', createdAt: '2026-11-26T12:00:00.000Z', image: 'debian-12', flavor: 'small', expires: '2027-03-01T00:00:00.000Z' },
  },
  'bob-batch': {
    name: 'bob-batch',
    uuid: '0e9d8c7b-6a5f-4e3d-9c2b-1a0f9e8d7c6b',
    type: 'qemu',
    memoryMiB: 512,
    vcpuPins: [9],
    emulatorSet: [9],
    machine: 'q35',
    firmware: {
      code: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd',
      vars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
      nvram: '/var/lib/libvirt/qemu/nvram/bob-batch_VARS.fd',
    },
    disk: { path: '/dev/lvm-data/guest-bob-batch' },
    seed: null,
    network: null,
    console: 'serial',
    consoleLog: '/var/log/libvirt/qemu/bob-batch-console.log',
    metadata: { owner: 'bob', bridge: null, createdAt: '2026-11-26T12:30:00.000Z' },
  },
};

for (const [name, spec] of Object.entries(SAMPLES)) {
  test(`golden XML: ${name}`, () => {
    const xml = renderDomainXml(spec);
    const file = new URL(`${name}.xml`, goldenDir);
    if (process.env.RAPTOR_UPDATE_GOLDEN) writeFileSync(file, xml);
    assert.equal(xml, readFileSync(file, 'utf8'), 'rendered XML differs from the golden file (npm run golden:update regenerates it)');
  });

  test(`parse(build(x)) = x: ${name}`, () => {
    assert.deepEqual(specFromParsed(parseDomainXml(renderDomainXml(spec))), spec);
  });
}

test('every field of the model appears in some golden file', () => {
  const all = Object.keys(SAMPLES).map((n) => readFileSync(new URL(`${n}.xml`, goldenDir), 'utf8')).join('\n');
  const leaves = (v: unknown): string[] =>
    v === null ? [] : Array.isArray(v) ? v.flatMap(leaves) : typeof v === 'object' ? Object.values(v as object).flatMap(leaves) : [String(v)];
  for (const spec of Object.values(SAMPLES)) for (const leaf of leaves(spec)) assert.ok(all.includes(leaf), `${leaf} not in any golden file`);
  for (const el of ['<vcpupin', '<emulatorpin', 'secure="yes"', '<smm state="on"/>', '<target type="virtio"', '<target type="serial"', '<model type="none"/>', '<interface type="bridge">', 'bus="virtio"', '<raptor:vm']) {
    assert.ok(all.includes(el), `${el} missing`);
  }
  assert.ok(!all.includes('<graphics'));
});

test('the house rules are in the XML', () => {
  const p = parseDomainXml(renderDomainXml(SAMPLES['alice-web']!));
  assert.equal(p.firmware?.secure, true);
  assert.equal(p.smm, true);
  assert.equal(p.graphics, 0);
  assert.equal(p.videoNone, true);
  assert.equal(p.console, 'virtio');
  assert.deepEqual(p.disks, [{ path: '/dev/lvm-data/guest-alice-web', bus: 'virtio', type: 'block' }]);
  assert.deepEqual(p.interfaces, [{ bridge: 'br-vm1', mac: '52:54:00:00:00:01', model: 'virtio', type: 'bridge' }]);
  assert.deepEqual(p.pinnedCpus, [4, 5, 6, 7]);
});

test('parses what libvirt hands back: KiB memory, extra devices, another namespace prefix', () => {
  const xml = `<domain type='kvm' id='3'>
  <name>carol-db</name><uuid>0b5e</uuid>
  <metadata><r:vm xmlns:r="https://raptor.michai.li/xmlns/domain/1"><r:owner>carol</r:owner><r:bridge>br-vm2</r:bridge><r:created-at>2026-01-01T00:00:00Z</r:created-at></r:vm></metadata>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static' cpuset='20-21'>2</vcpu>
  <cputune><vcpupin vcpu='1' cpuset='13'/><vcpupin vcpu='0' cpuset='12'/><emulatorpin cpuset='12-13'/></cputune>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type><loader readonly='yes' secure='yes' type='pflash'>/c.fd</loader><nvram template='/v.fd'>/n.fd</nvram></os>
  <features><acpi/><smm state='on'/></features>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
   <disk type='block' device='disk'><source dev='/dev/lvm-data/guest-carol-db'/><target dev='vda' bus='virtio'/></disk>
   <disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>
   <interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br-vm2'/><model type='virtio'/></interface>
   <console type='pty' tty='/dev/pts/3'><target type='virtio' port='0'/></console>
  </devices></domain>`;
  const p = parseDomainXml(xml);
  assert.equal(p.memoryMiB, 1024);
  assert.deepEqual(p.vcpuPins, [12, 13]);
  assert.deepEqual(p.pinnedCpus, [12, 13, 20, 21]);
  assert.deepEqual(p.disks.map((d) => d.path), ['/dev/lvm-data/guest-carol-db']);
  assert.deepEqual(p.metadata, { owner: 'carol', bridge: 'br-vm2', createdAt: '2026-01-01T00:00:00Z' });
  assert.equal(p.machine, 'pc-q35-7.2');
});

test('a foreign domain without raptor metadata parses with metadata undefined', () => {
  const p = parseDomainXml(`<domain type='kvm'><name>win11</name><memory>4194304</memory><vcpu>4</vcpu><devices><graphics type='spice'/></devices></domain>`);
  assert.equal(p.metadata, undefined);
  assert.equal(p.graphics, 1);
  assert.equal(p.firmware, null);
  assert.deepEqual(p.pinnedCpus, []);
});
