import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../core/config.ts';
import { RaptorError } from '../core/errors.ts';
import { parseDomainXml, renderDomainXml } from '../libvirt/domain-xml.ts';
import { TAG_CREATING, TAG_WIPED } from '../core/host-types.ts';
import { planCreate, planDestroy, type HostState } from './planner.ts';
import type { VolumeUse } from '../storage/volume-use.ts';
import { Observation } from '../dns/records.ts';

const GiB = 2 ** 30;
const config = parseConfigText('domain_type = "qemu"\n[cpus]\nreserved = "0"\n[[bridges]]\nname = "br-vm1"\n[[bridges]]\nname = "br-vm2"', 't');
const now = new Date('2026-11-26T12:00:00Z');
const emptyHost = (): HostState => ({
  hostCpus: [0, 1, 2, 3],
  domains: [],
  vg: { name: 'lvm-data', sizeBytes: 10 * GiB, freeBytes: 10 * GiB, extentBytes: 4 * 2 ** 20 },
  lvs: [],
});
const req = { vm: { user: 'alice', name: 'web' }, uuid: '11111111-2222-4333-8444-555555555555', cpus: 2, memoryBytes: 512 * 2 ** 20, diskBytes: GiB };
const kind = (k: string) => (e: unknown) => e instanceof RaptorError && e.kind === k;

test('create plan: LV, define, mark complete; XML carries the allocation', () => {
  const p = planCreate(config, { ...req, start: true }, emptyHost(), now);
  assert.deepEqual(p.steps.map((s) => s.kind), ['lv-create', 'domain-define', 'domain-start', 'lv-untag']);
  assert.deepEqual(p.spec.vcpuPins, [1, 2]);
  assert.deepEqual(p.spec.network, { bridge: 'br-vm1', mac: '52:54:00:00:00:01' });
  const lv = p.steps[0]!;
  assert.ok(lv.kind === 'lv-create' && lv.sizeBytes === GiB && lv.lv === 'guest-alice-web' && lv.tags.includes(TAG_CREATING));
  assert.match(p.xml, /<source dev="\/dev\/lvm-data\/guest-alice-web"\/>/);
});

function withDomain(host: HostState, name: string, pins: number[], bridge: string | null): HostState {
  const xml = renderDomainXml({
    name, uuid: '00000000-0000-4000-8000-000000000001', type: 'qemu', memoryMiB: 256, vcpuPins: pins, emulatorSet: pins, machine: 'q35',
    firmware: { code: 'c', vars: 'v', nvram: 'n' }, disk: { path: `/dev/lvm-data/guest-${name}` }, seed: null,
    network: bridge ? { bridge, mac: '52:54:00:00:00:01' } : null, console: 'virtio', consoleLog: null,
    metadata: { owner: name.split('-')[0]!, bridge, createdAt: '' },
  });
  return { ...host, domains: [...host.domains, { name, state: 'shut off', parsed: parseDomainXml(xml) }] };
}

test('CPUs and bridges in use by any domain are skipped', () => {
  const host = withDomain(emptyHost(), 'bob-x', [1], 'br-vm1');
  const p = planCreate(config, req, host, now);
  assert.deepEqual(p.spec.vcpuPins, [2, 3]);
  assert.equal(p.spec.network?.bridge, 'br-vm2');
});

test('capacity and conflicts are exit-3 errors before any step', () => {
  let host = withDomain(emptyHost(), 'bob-x', [1], 'br-vm1');
  assert.throws(() => planCreate(config, { ...req, cpus: 3 }, host, now), kind('conflict'));
  assert.throws(() => planCreate(config, { ...req, bridge: 'br-vm1' }, host, now), kind('conflict'));
  host = withDomain(host, 'carol-y', [], 'br-vm2');
  assert.throws(() => planCreate(config, req, host, now), (e: unknown) => kind('conflict')(e) && /no free bridge/.test((e as Error).message));
  assert.equal(planCreate(config, { ...req, noNetwork: true }, host, now).spec.network, null);
  assert.throws(() => planCreate(config, { ...req, diskBytes: 11 * GiB }, emptyHost(), now), (e: unknown) => kind('conflict')(e) && /10 GiB free/.test((e as Error).message));
  assert.throws(() => planCreate(config, req, withDomain(emptyHost(), 'alice-web', [3], null), now), (e: unknown) => kind('conflict')(e) && /already exists/.test((e as Error).message));
  assert.throws(() => planCreate(config, { ...req, bridge: 'br-vm9' }, emptyHost(), now), kind('bad-input'));
  assert.throws(() => planCreate(config, { ...req, diskBytes: GiB + 2 ** 20 }, emptyHost(), now), kind('bad-input'));
});

test('an LV left by an unfinished create is resumed; an untagged one is a conflict', () => {
  const lv = { name: 'guest-alice-web', vg: 'lvm-data', sizeBytes: GiB, path: '/dev/lvm-data/guest-alice-web', tags: [TAG_CREATING], open: false };
  const resumed = planCreate(config, req, { ...emptyHost(), lvs: [lv] }, now);
  assert.equal(resumed.resumed, true);
  assert.deepEqual(resumed.steps.map((s) => s.kind), ['domain-define', 'lv-untag']);
  assert.throws(() => planCreate(config, req, { ...emptyHost(), lvs: [{ ...lv, tags: [] }] }, now), (e: unknown) => kind('conflict')(e) && /interrupted destroy/.test((e as Error).message));
  // domain defined too: only the rest remains
  const both = withDomain({ ...emptyHost(), lvs: [lv] }, 'alice-web', [2], 'br-vm2');
  assert.deepEqual(planCreate(config, { ...req, start: true }, both, now).steps.map((s) => s.kind), ['domain-start', 'lv-untag']);
  // killed after start: the domain runs already, only the mark remains
  both.domains[0]!.state = 'running';
  assert.deepEqual(planCreate(config, { ...req, start: true }, both, now).steps.map((s) => s.kind), ['lv-untag']);
});

test('destroy plan: DNS, undefine, stop, wipe, remove; skips what is gone or already wiped', () => {
  const lv = { name: 'guest-alice-web', vg: 'lvm-data', sizeBytes: GiB, path: '/dev/lvm-data/guest-alice-web', tags: [], open: false };
  let host = withDomain({ ...emptyHost(), lvs: [lv] }, 'alice-web', [1], 'br-vm1');
  host.domains[0]!.state = 'running';
  assert.deepEqual(planDestroy(config, req.vm, host, 10).steps.map((s) => s.kind), ['domain-undefine', 'domain-stop', 'lv-wipe', 'lv-remove']);
  // seen shut off, it is still stopped after the undefine: its owner may start it until then
  host.domains[0]!.state = 'shut off';
  assert.deepEqual(planDestroy(config, req.vm, host, 10).steps.map((s) => s.kind), ['domain-undefine', 'domain-stop', 'lv-wipe', 'lv-remove']);
  // an interrupted destroy left it transient and running: nothing to undefine, only to stop
  host.domains[0]!.state = 'running';
  assert.deepEqual(planDestroy(config, req.vm, host, 10, { persistent: false }).steps.map((s) => s.kind), ['domain-stop', 'lv-wipe', 'lv-remove']);
  assert.deepEqual(planDestroy(config, req.vm, { ...emptyHost(), lvs: [lv] }, 10, { nvramExists: true }).steps.map((s) => s.kind), ['domain-undefine', 'lv-wipe', 'lv-remove']);
  host = { ...emptyHost(), lvs: [{ ...lv, tags: [TAG_WIPED] }] };
  assert.deepEqual(planDestroy(config, req.vm, host, 10).steps.map((s) => s.kind), ['lv-remove']);
  assert.throws(() => planDestroy(config, req.vm, emptyHost(), 10), kind('not-found'));
  const shared = withDomain({ ...emptyHost(), lvs: [lv] }, 'alice-web', [1], null);
  shared.domains.push({ ...shared.domains[0]!, name: 'handmade' });
  assert.throws(() => planDestroy(config, req.vm, shared, 10), (e: unknown) => kind('conflict')(e) && /handmade/.test((e as Error).message));
});

const SEED = '/var/lib/raptor/seeds/alice-web-cidata.img';
const cloudInit = (id: string, consoleKind: 'virtio' | 'serial') => ({ metaData: `instance-id: ${id}\n`, userData: `#cloud-config\n# ${consoleKind}\n` });

test('create with cloud-init: the seed is written before the domain that names it, with the domain UUID', () => {
  const p = planCreate(config, { ...req, cloudInit, madeFrom: { image: 'debian-12', flavor: 'small' } }, emptyHost(), now);
  assert.deepEqual(p.steps.map((s) => s.kind), ['lv-create', 'seed-write', 'domain-define', 'lv-untag']);
  const seed = p.steps[1]!;
  assert.ok(seed.kind === 'seed-write' && seed.path === SEED && seed.metaData === `instance-id: ${req.uuid}\n` && /virtio/.test(seed.userData));
  assert.equal(p.spec.uuid, req.uuid);
  assert.match(p.xml, new RegExp(`<uuid>${req.uuid}</uuid>`));
  assert.match(p.xml, /<source file="\/var\/lib\/raptor\/seeds\/alice-web-cidata\.img"\/>\s*<target dev="vdb" bus="virtio"\/>\s*<readonly\/>/);
  assert.match(p.xml, /<raptor:image>debian-12<\/raptor:image>\s*<raptor:flavor>small<\/raptor:flavor>/);
  // without cloud-init: no seed step, no seed disk
  const bare = planCreate(config, req, emptyHost(), now);
  assert.equal(bare.spec.seed, null);
  assert.ok(!bare.steps.some((s) => s.kind === 'seed-write'));
});

test('a resumed create keeps the defined UUID for the seed and rewrites only a missing seed', () => {
  const lv = { name: 'guest-alice-web', vg: 'lvm-data', sizeBytes: GiB, path: '/dev/lvm-data/guest-alice-web', tags: [TAG_CREATING], open: false };
  const first = planCreate(config, { ...req, cloudInit, uuid: 'aaaaaaaa-0000-4000-8000-000000000001' }, emptyHost(), now);
  const host: HostState = { ...emptyHost(), lvs: [lv], domains: [{ name: 'alice-web', state: 'shut off', parsed: parseDomainXml(first.xml) }] };
  const missing = planCreate(config, { ...req, cloudInit }, host, now);
  assert.deepEqual(missing.steps.map((s) => s.kind), ['seed-write', 'lv-untag']);
  const s = missing.steps[0]!;
  assert.ok(s.kind === 'seed-write' && s.metaData === 'instance-id: aaaaaaaa-0000-4000-8000-000000000001\n');
  const present = planCreate(config, { ...req, cloudInit }, { ...host, seeds: [SEED] }, now);
  assert.deepEqual(present.steps.map((x) => x.kind), ['lv-untag']);
});

test('destroy removes the seed after undefine and stop; a seed alone is still something to destroy', () => {
  const withSeed = planCreate(config, { ...req, cloudInit }, emptyHost(), now);
  const lv = { name: 'guest-alice-web', vg: 'lvm-data', sizeBytes: GiB, path: '/dev/lvm-data/guest-alice-web', tags: [], open: false };
  const host: HostState = { ...emptyHost(), lvs: [lv], seeds: [SEED], domains: [{ name: 'alice-web', state: 'shut off', parsed: parseDomainXml(withSeed.xml) }] };
  assert.deepEqual(planDestroy(config, req.vm, host, 10).steps.map((s) => s.kind), ['domain-undefine', 'domain-stop', 'seed-remove', 'lv-wipe', 'lv-remove']);
  assert.deepEqual(planDestroy(config, req.vm, { ...emptyHost(), seeds: [SEED] }, 10).steps.map((s) => s.kind), ['seed-remove']);
});

test('destroy with DNS removes the records first, from the bridge the domain names', () => {
  const dnsConfig = parseConfigText('domain_type = "qemu"\n[[bridges]]\nname = "br-vm1"\nipv4 = "198.51.100.11"\n[dns]\nzone = "raptor.test"\nreverse_zones = ["100.51.198.in-addr.arpa"]', 't');
  const lv = { name: 'guest-alice-web', vg: 'lvm-data', sizeBytes: GiB, path: '/dev/lvm-data/guest-alice-web', tags: [], open: false };
  const host = withDomain({ ...emptyHost(), lvs: [lv] }, 'alice-web', [1], 'br-vm1');
  const asks = planDestroy(dnsConfig, req.vm, host, 10);
  assert.deepEqual(asks.dnsQuestions?.refs.map((r) => `${r.name} ${r.type}`), ['alice-web.raptor.test A', 'alice-web.raptor.test AAAA', '11.100.51.198.in-addr.arpa PTR']);
  const observed = new Observation().set('alice-web.raptor.test', 'A', ['198.51.100.11']).set('alice-web.raptor.test', 'AAAA', []).set('11.100.51.198.in-addr.arpa', 'PTR', ['alice-web.raptor.test']);
  const plan = planDestroy(dnsConfig, req.vm, { ...host, dns: { endpoint: '127.0.0.1:53', unserved: [], observed } }, 10);
  assert.deepEqual(plan.steps.map((s) => s.kind), ['dns-remove', 'domain-undefine', 'domain-stop', 'lv-wipe', 'lv-remove']);
  const dns = plan.steps[0]!;
  assert.ok(dns.kind === 'dns-remove' && dns.vm.ipv4 === '198.51.100.11');
});

test('destroy refuses a held volume before any step, except the own qemu', () => {
  const lv = { name: 'guest-alice-web', vg: 'lvm-data', sizeBytes: GiB, path: '/dev/lvm-data/guest-alice-web', tags: [], open: false };
  const host = withDomain({ ...emptyHost(), lvs: [lv] }, 'alice-web', [1], 'br-vm1');
  const plan = (volumeUse: VolumeUse, h = host) => planDestroy(config, req.vm, h, 10, { persistent: true, volumeUse });
  const reader: VolumeUse = { device: '/dev/loop5', holders: [{ kind: 'process', pid: 4242, command: 'sleep 300', ownQemu: false }], unreadable: [] };
  assert.throws(() => plan(reader), (e: unknown) => kind('conflict')(e) && /the device is open: pid 4242 \(sleep 300\)/.test((e as Error).message));
  const own: VolumeUse = { device: '/dev/loop5', holders: [{ kind: 'process', pid: 77, command: 'qemu-system-x86_64 -name guest=alice-web', ownQemu: true }], unreadable: [] };
  assert.equal(plan(own).steps.length, 4);
  for (const h of [{ kind: 'loop', device: '/dev/loop9' }, { kind: 'sysfs-holder', device: 'dm-4' }, { kind: 'mount', target: '/mnt' }, { kind: 'exclusive' }] as const) {
    assert.throws(() => plan({ ...own, holders: [...own.holders, h] }), kind('conflict'), h.kind);
  }
  assert.throws(() => plan({ ...own, unreadable: [1] }), kind('not-allowed'));
  // LVM's open count with nothing found behind it
  const openLv = { ...host, lvs: [{ ...lv, open: true }] };
  assert.throws(() => plan({ device: '/dev/dm-3', holders: [], unreadable: [] }, openLv), (e: unknown) => kind('conflict')(e) && /LVM reports it open/.test((e as Error).message));
  assert.equal(plan(own, openLv).steps.length, 4);
  // an inactive LV has no device to wipe: refused before DNS and the domain are touched
  assert.throws(() => planDestroy(config, req.vm, host, 10, { persistent: true, deviceMissing: true }), (e: unknown) => kind('conflict')(e) && /lvchange -ay lvm-data\/guest-alice-web/.test((e as Error).message));
});

test('create refuses a disk no free piece can hold under contiguous allocation', () => {
  const MiB4 = 4 * 2 ** 20;
  const vg = { ...emptyHost().vg!, freeBytes: 48 * MiB4, allocation: 'contiguous', free: [{ pv: '/dev/sda', startExtent: 0, extents: 16 }, { pv: '/dev/sda', startExtent: 32, extents: 32 }] };
  const host = { ...emptyHost(), vg };
  assert.throws(
    () => planCreate(config, { ...req, diskBytes: 40 * MiB4 }, host, now),
    (e: unknown) => kind('conflict')(e) && (e as Error).message === 'volume group lvm-data allocates contiguously and its largest contiguous free piece is 128 MiB, 160 MiB requested (192 MiB free in 2 pieces)',
  );
  assert.equal(planCreate(config, { ...req, diskBytes: 32 * MiB4 }, host, now).steps[0]!.kind, 'lv-create');
  assert.equal(planCreate(config, { ...req, diskBytes: 40 * MiB4 }, { ...host, vg: { ...vg, allocation: 'normal' } }, now).steps[0]!.kind, 'lv-create');
});
