import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../core/config.ts';
import { RaptorError } from '../core/errors.ts';
import { parseDomainXml, renderDomainXml } from '../libvirt/domain-xml.ts';
import { planCreate, type HostState } from './planner.ts';
import { planResize, type ResizeTarget } from './resize.ts';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const config = parseConfigText('domain_type = "qemu"\n[cpus]\nreserved = "0-3"\n[quotas]\nvcpus = 6\ndisk = "20G"\n[[bridges]]\nname = "br-vm1"', 't');
const kind = (k: string, re?: RegExp) => (e: unknown) => e instanceof RaptorError && e.kind === k && (!re || re.test(e.message));

function xmlOf(name: string, pins: number[], memoryMiB = 1024): string {
  return renderDomainXml({
    name, uuid: '00000000-0000-4000-8000-000000000001', type: 'qemu', memoryMiB, vcpuPins: pins, emulatorSet: pins.slice(-2), machine: 'q35',
    firmware: { code: 'c', vars: 'v', nvram: 'n' }, disk: { path: `/dev/lvm-data/guest-${name}` }, seed: null,
    network: null, console: 'virtio', consoleLog: null, metadata: { owner: name.split('-')[0]!, bridge: null, createdAt: '' },
  });
}

/** A 16-CPU host: alice-web on 4-5, bob-db on 6-7 with a pending re-pin to 12-13. */
function host(): HostState {
  const bob = { name: 'bob-db', state: 'running' as const, parsed: parseDomainXml(xmlOf('bob-db', [6, 7])), inactive: parseDomainXml(xmlOf('bob-db', [12, 13])) };
  return {
    hostCpus: [...Array(16).keys()],
    domains: [{ name: 'alice-web', state: 'running', parsed: parseDomainXml(xmlOf('alice-web', [4, 5])) }, bob],
    vg: { name: 'lvm-data', sizeBytes: 100 * GiB, freeBytes: 50 * GiB, extentBytes: 4 * MiB },
    lvs: [
      { name: 'guest-alice-web', vg: 'lvm-data', sizeBytes: 10 * GiB, path: '/dev/lvm-data/guest-alice-web', tags: [], open: true },
      { name: 'guest-bob-db', vg: 'lvm-data', sizeBytes: 10 * GiB, path: '/dev/lvm-data/guest-bob-db', tags: [], open: true },
    ],
  };
}

function target(state = 'running', pins = [4, 5], memoryMiB = 1024): ResizeTarget {
  const xml = xmlOf('alice-web', pins, memoryMiB);
  return { state, liveXml: xml, live: parseDomainXml(xml), inactiveXml: xml, inactive: parseDomainXml(xml) };
}
const vm = { user: 'alice', name: 'web' };

test('resize CPUs: allocated again around every other VM, running and pending pins, own pins free to keep', () => {
  const p = planResize(config, { vm, cpus: 4 }, host(), target());
  // 0-3 reserved, 6-7 bob (running), 12-13 bob (next boot): 4-5 are alice's own, 8-11 the first run of 4
  assert.deepEqual(p.after.cpuset, [8, 9, 10, 11]);
  assert.deepEqual(p.after.emulatorCpuset, [10, 11]);
  assert.deepEqual(p.steps.map((s) => s.kind), ['domain-redefine']);
  const redefine = p.steps[0]!;
  assert.ok(redefine.kind === 'domain-redefine');
  const next = parseDomainXml(redefine.xml);
  assert.deepEqual([next.vcpus, next.vcpuPins, next.emulatorSet], [4, [8, 9, 10, 11], [10, 11]]);
  assert.equal(redefine.previousXml, target().inactiveXml, 'the undo defines the old definition');
  assert.match(p.notes.join('\n'), /from the next boot/);
  // two CPUs: keeps 4-5 (its own) rather than moving
  const same = planResize(config, { vm, cpus: 2 }, host(), target());
  assert.deepEqual(same.steps, []);
  const shrink = planResize(config, { vm, cpus: 1 }, host(), target());
  assert.deepEqual(shrink.after.cpuset, [4]);
});

test('resize CPUs: not enough free CPUs and over quota are exit 3', () => {
  assert.throws(() => planResize(config, { vm, cpus: 9 }, host(), target()), kind('conflict', /quota of alice exceeded: vcpus 2 of 6 in use, 7 more/));
  assert.throws(() => planResize(config, { vm, cpus: 9, ignoreQuota: true }, host(), target()), kind('conflict', /not enough free CPUs: 9 requested, 8 free/));
  const p = planResize(config, { vm, cpus: 8, ignoreQuota: true }, host(), target());
  assert.deepEqual(p.after.cpuset, [4, 5, 8, 9, 10, 11, 14, 15]);
});

test('resize disk: grows by lvextend then blockresize when running; only lvextend when shut off', () => {
  let p = planResize(config, { vm, disk: { bytes: 2 * GiB, relative: true } }, host(), target());
  assert.deepEqual(p.steps.map((s) => s.kind), ['lv-extend', 'domain-blockresize']);
  assert.deepEqual(p.steps[1], { kind: 'domain-blockresize', domain: 'alice-web', target: 'vda', sizeBytes: 12 * GiB });
  assert.match(p.notes.join('\n'), /cloud-init guest grows its root partition/);
  p = planResize(config, { vm, disk: { bytes: 12 * GiB, relative: false } }, host(), target('shut off'));
  assert.deepEqual(p.steps.map((s) => s.kind), ['lv-extend']);
});

test('resize disk refusals: shrink and odd sizes are exit 2, VG space and quota exit 3', () => {
  assert.throws(() => planResize(config, { vm, disk: { bytes: 8 * GiB, relative: false } }, host(), target()), kind('bad-input', /disks only grow/));
  assert.throws(() => planResize(config, { vm, disk: { bytes: 1, relative: true } }, host(), target()), kind('bad-input', /multiple of 4 MiB/));
  // alice has 10 GiB of a 20 GiB disk quota
  assert.throws(() => planResize(config, { vm, disk: { bytes: 11 * GiB, relative: true } }, host(), target()), kind('conflict', /quota of alice exceeded: disk 10 GiB of 20 GiB in use, 11 GiB more/));
  assert.throws(() => planResize(config, { vm, disk: { bytes: 60 * GiB, relative: true }, ignoreQuota: true }, host(), target()), kind('conflict', /has 50 GiB free, 60 GiB more requested for guest-alice-web/));
  assert.throws(() => planResize(config, { vm }, host(), target()), kind('bad-input', /nothing to resize/));
  // contiguous allocation: only the free piece right after the LV counts
  const h = host();
  h.vg = {
    ...h.vg!, allocation: 'contiguous',
    used: [{ pv: '/dev/loop0', lv: 'guest-alice-web', startExtent: 0, extents: 2560 }, { pv: '/dev/loop0', lv: 'guest-bob-db', startExtent: 2816, extents: 2560 }],
    free: [{ pv: '/dev/loop0', startExtent: 2560, extents: 256 }, { pv: '/dev/loop0', startExtent: 5376, extents: 12800 }],
  };
  planResize(config, { vm, disk: { bytes: GiB, relative: true } }, h, target());
  assert.throws(() => planResize(config, { vm, disk: { bytes: GiB + 4 * MiB, relative: true } }, h, target()), kind('conflict', /only 1 GiB is free right after guest-alice-web/));
});

test('resize memory: persistent always; live only with a balloon and within the boot maximum', () => {
  let p = planResize(config, { vm, memoryBytes: 2 * GiB }, host(), target());
  assert.deepEqual(p.steps.map((s) => s.kind), ['domain-redefine']);
  assert.match(p.notes.join('\n'), /2048 MiB from the next boot \(not live: the domain has no memory balloon\)/);
  const t = target();
  const balloon = t.liveXml.replace('<memballoon model="none"/>', '<memballoon model="virtio"/>');
  const withBalloon = { ...t, liveXml: balloon, inactiveXml: balloon };
  p = planResize(config, { vm, memoryBytes: 512 * MiB }, host(), withBalloon);
  assert.deepEqual(p.steps.map((s) => s.kind), ['domain-redefine', 'domain-setmem']);
  assert.deepEqual(p.steps[1], { kind: 'domain-setmem', domain: 'alice-web', memoryMiB: 512, previousMiB: 1024 });
  p = planResize(config, { vm, memoryBytes: 2 * GiB }, host(), withBalloon);
  assert.deepEqual(p.steps.map((s) => s.kind), ['domain-redefine'], 'above the boot maximum: next boot only');
  assert.throws(() => planResize(config, { vm, memoryBytes: 2 * GiB + 1 }, host(), target()), kind('bad-input', /whole number of MiB/));
});

test('all three at once: definition first, the volume last (its undo is safe only before the guest is told)', () => {
  const p = planResize(config, { vm, cpus: 3, memoryBytes: 2 * GiB, disk: { bytes: 4 * GiB, relative: true } }, host(), target());
  assert.deepEqual(p.steps.map((s) => s.kind), ['domain-redefine', 'lv-extend', 'domain-blockresize']);
});

test('create: quotas count the host, pending pins are taken, expiry goes into the metadata', () => {
  const req = { vm: { user: 'alice', name: 'db' }, uuid: '11111111-2222-4333-8444-555555555555', memoryBytes: GiB, diskBytes: GiB };
  assert.throws(() => planCreate(config, { ...req, cpus: 5 }, host(), new Date()), kind('conflict', /quota of alice exceeded: vcpus 2 of 6 in use, 5 more/));
  assert.throws(() => planCreate(config, { ...req, cpus: 7, ignoreQuota: true }, host(), new Date()), kind('conflict', /not enough free CPUs: 7 requested, 6 free/));
  const p = planCreate(config, { ...req, cpus: 6, ignoreQuota: true, expires: '2027-03-01T00:00:00.000Z' }, host(), new Date());
  assert.deepEqual(p.spec.vcpuPins, [8, 9, 10, 11, 14, 15], "bob's pending 12-13 stay his");
  assert.equal(parseDomainXml(p.xml).metadata?.expires, '2027-03-01T00:00:00.000Z');
  // bob is over nothing: a quota is per user
  planCreate(config, { ...req, vm: { user: 'bob', name: 'x' }, cpus: 4 }, host(), new Date());
});
