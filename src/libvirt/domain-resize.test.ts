import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diskTargetOf, editDomainXml, hasBalloon, setMetadataChild } from './domain-resize.ts';
import { parseDomainXml } from './domain-xml.ts';

// what libvirt hands back for a raptor domain: uuid, KiB units, addresses it added
const libvirtXml = `<domain type='qemu'>
  <name>alice-web</name>
  <uuid>5b1e0c7a-1111-4222-8333-944455556666</uuid>
  <metadata>
    <raptor:vm xmlns:raptor="https://raptor.michai.li/xmlns/domain/1">
      <raptor:owner>alice</raptor:owner>
    </raptor:vm>
  </metadata>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <cputune>
    <vcpupin vcpu='0' cpuset='4'/>
    <vcpupin vcpu='1' cpuset='5'/>
    <emulatorpin cpuset='4-5'/>
    <iothreadpin iothread='1' cpuset='4'/>
  </cputune>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <devices>
    <disk type='block' device='disk'>
      <source dev='/dev/lvm-data/guest-alice-web'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <memballoon model='none'/>
  </devices>
</domain>`;

test('editDomainXml: new memory and pins, everything else kept', () => {
  const xml = editDomainXml(libvirtXml, { memoryMiB: 1024, vcpuPins: [8, 9, 10], emulatorSet: [9, 10] });
  const p = parseDomainXml(xml);
  assert.equal(p.memoryMiB, 1024);
  assert.match(xml, /<currentMemory unit="MiB">1024<\/currentMemory>/);
  assert.equal(p.vcpus, 3);
  assert.doesNotMatch(xml, /current=/, 'no <vcpu current> left to contradict the pins');
  assert.deepEqual(p.vcpuPins, [8, 9, 10]);
  assert.deepEqual(p.emulatorSet, [9, 10]);
  assert.match(xml, /<uuid>5b1e0c7a-1111-4222-8333-944455556666<\/uuid>/);
  assert.match(xml, /<iothreadpin iothread="1" cpuset="4"\/>/);
  assert.match(xml, /<address type="pci" domain="0x0000" bus="0x04"/);
  assert.equal(p.metadata?.owner, 'alice');
  // only memory: the CPUs stay
  const m = parseDomainXml(editDomainXml(libvirtXml, { memoryMiB: 512 }));
  assert.deepEqual([m.memoryMiB, m.vcpuPins], [512, [4, 5]]);
});

test('editDomainXml adds cputune where the domain had none', () => {
  const p = parseDomainXml(editDomainXml(`<domain><name>a-b</name><memory>1</memory><vcpu>1</vcpu></domain>`, { vcpuPins: [3] }));
  assert.deepEqual([p.vcpus, p.vcpuPins, p.emulatorSet], [1, [3], [3]]);
});

test('setMetadataChild sets, replaces and removes one child, keeping the others', () => {
  const md = '<vm>\n  <owner>alice</owner>\n  <bridge>br-vm1</bridge>\n  <image>debian-12</image>\n</vm>\n';
  const set = setMetadataChild(md, 'expires', '2027-03-01T00:00:00.000Z');
  assert.match(set, /<owner>alice<\/owner>[\s\S]*<image>debian-12<\/image>[\s\S]*<expires>2027-03-01T00:00:00.000Z<\/expires>/);
  const again = setMetadataChild(set, 'expires', '2028-01-01T00:00:00.000Z');
  assert.equal(again.match(/<expires>/g)?.length, 1);
  assert.doesNotMatch(setMetadataChild(again, 'expires', null), /expires/);
});

test('balloon and disk target', () => {
  assert.equal(hasBalloon(libvirtXml), false);
  assert.equal(hasBalloon(`<devices><memballoon model='virtio'/></devices>`), true);
  assert.equal(hasBalloon(`<devices></devices>`), false);
  assert.equal(diskTargetOf(libvirtXml, '/dev/lvm-data/guest-alice-web'), 'vda');
  assert.equal(diskTargetOf(libvirtXml, '/dev/lvm-data/guest-bob-x'), undefined);
});
