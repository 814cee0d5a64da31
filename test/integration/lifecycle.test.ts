// VM lifecycle against the sandbox's real libvirtd and LVM: create, show, list, start/stop, destroy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { parseDomainXml } from '../../src/libvirt/domain-xml.ts';
import {
  cleanup,
  defineXml,
  dumpxml,
  hostSnapshot,
  loadTestConfig,
  lvList,
  lvPlacement,
  nvramFiles,
  raptor,
  readBytes,
  writeBytes,
  sh,
  testConfigPath,
  virshNames,
} from './lib/raptor.ts';

const MiB = 2 ** 20;

describe('vm lifecycle', () => {
  const cfgPath = testConfigPath();
  const config = loadTestConfig(cfgPath);
  const vms = ['alice-web', 'bob-db', 'carol-x', 'dave-y'];
  const handmade = ['handmade-2', 'handmade-3', 'handmade-4', 'handmade-5', 'ubuntu22.04'];
  const r = (args: string[], env?: Record<string, string>) => raptor(args, { config: cfgPath, ...(env ? { env } : {}) });

  before(() => cleanup(config, [...vms, ...handmade]));
  after(() => cleanup(config, [...vms, ...handmade]));

  test('create two VMs: XML carries every house rule, CPUs disjoint 1:1, bridges and MACs paired', async () => {
    const a = await r(['vm', 'create', 'alice-web', '--cpus', '1', '--memory', '256M', '--disk', '64M', '--json']);
    assert.equal(a.code, 0, a.stderr);
    const b = await r(['vm', 'create', 'bob-db', '--cpus', '1', '--memory', '256M', '--disk', '128M', '--json']);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(virshNames().filter((n) => vms.includes(n)), ['alice-web', 'bob-db']);

    const pa = parseDomainXml(dumpxml('alice-web'));
    const pb = parseDomainXml(dumpxml('bob-db'));
    for (const [p, id] of [[pa, 'alice-web'], [pb, 'bob-db']] as const) {
      assert.equal(p.type, 'qemu');
      assert.match(p.machine, /^pc-q35-/, 'libvirt expands q35 to a versioned machine');
      assert.equal(p.firmware?.secure, true);
      assert.equal(p.firmware?.code, config.firmware.code);
      assert.equal(p.firmware?.vars, config.firmware.vars);
      assert.equal(p.firmware?.nvram, `${config.nvram_dir}/${id}_VARS.fd`);
      assert.equal(p.smm, true);
      assert.equal(p.graphics, 0);
      assert.equal(p.videoNone, true);
      assert.equal(p.console, 'virtio');
      assert.deepEqual(p.disks, [{ path: `/dev/lvm-data/guest-${id}`, bus: 'virtio', type: 'block' }]);
      assert.equal(p.interfaces.length, 1);
      assert.equal(p.interfaces[0]!.model, 'virtio');
      assert.equal(p.vcpuPins.length, p.vcpus, 'one pin per vCPU');
      assert.deepEqual(p.emulatorSet, p.vcpuPins.slice(-2));
      assert.equal(p.metadata?.owner, id.split('-')[0]);
      assert.equal(p.metadata?.bridge, p.interfaces[0]!.bridge);
    }
    assert.equal(pa.vcpuPins.filter((c) => pb.vcpuPins.includes(c)).length, 0, 'CPU sets are disjoint');
    assert.notEqual(pa.interfaces[0]!.bridge, pb.interfaces[0]!.bridge);
    for (const p of [pa, pb]) {
      const n = Number(/(\d+)$/.exec(p.interfaces[0]!.bridge)![1]);
      assert.equal(p.interfaces[0]!.mac, `52:54:00:00:00:0${n}`, 'MAC is paired with its bridge');
    }
    const lvs = lvList(config);
    assert.equal(lvs.find((l) => l.name === 'guest-alice-web')?.sizeBytes, 64 * MiB);
    assert.equal(lvs.find((l) => l.name === 'guest-bob-db')?.sizeBytes, 128 * MiB);
    assert.ok(!lvs.some((l) => l.tags.includes('raptor_creating')), 'finished creates leave no creating tag');
  });

  test('vm show --json has the documented fields with true values', async () => {
    const s = await r(['vm', 'show', 'alice-web', '--json']);
    assert.equal(s.code, 0, s.stderr);
    const v = s.json as Record<string, unknown>;
    const p = parseDomainXml(dumpxml('alice-web'));
    assert.equal(v.name, 'alice-web');
    assert.equal(v.user, 'alice');
    assert.equal(v.state, 'shut off');
    assert.equal(v.vcpus, 1);
    assert.deepEqual(v.cpuset, p.vcpuPins);
    assert.deepEqual(v.emulatorCpuset, p.emulatorSet);
    assert.equal(v.memoryMiB, 256);
    assert.deepEqual(v.disk, { volume: 'lvm-data/guest-alice-web', path: '/dev/lvm-data/guest-alice-web', sizeBytes: 64 * MiB });
    const bridge = config.bridges.find((b) => b.name === p.interfaces[0]!.bridge)!;
    assert.deepEqual(v.network, { bridge: bridge.name, mac: bridge.mac, ipv4: bridge.ipv4, ipv6: bridge.ipv6 });
    assert.equal(v.fqdn, `alice-web.${config.dns.zone}`);
    const missing = await r(['vm', 'show', 'alice-nosuch', '--json']);
    assert.equal(missing.code, 4);
    assert.deepEqual(Object.keys((missing.json as { error: object }).error).sort(), ['code', 'exitCode', 'message']);
  });

  test('vm list: raptor VMs with their fields, hand-made domains as unmanaged', async () => {
    defineXml(`<domain type='qemu'><name>ubuntu22.04</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`);
    const l = await r(['vm', 'list', '--json']);
    assert.equal(l.code, 0, l.stderr);
    const list = l.json as { name: string; managed: boolean; user: string | null }[];
    assert.deepEqual(list.filter((v) => v.managed && vms.includes(v.name)).map((v) => v.name), ['alice-web', 'bob-db']);
    const foreign = list.find((v) => v.name === 'ubuntu22.04');
    assert.deepEqual([foreign?.managed, foreign?.user], [false, null]);
    const only = await r(['vm', 'list', '--user', 'bob', '--json']);
    assert.deepEqual((only.json as { name: string }[]).map((v) => v.name), ['bob-db']);
    const human = await r(['vm', 'list']);
    assert.match(human.stdout, /^NAME\s+USER\s+STATE/m);
    assert.match(human.stdout, /ubuntu22\.04\s+\(unmanaged\)/);
  });

  test('capacity and conflicts exit 3 and change nothing', async () => {
    // both host CPUs of this 2-CPU sandbox are taken by alice-web and bob-db (cpus.reserved is empty)
    const hostCpus = Number(sh(['nproc', '--all']).trim());
    const before = hostSnapshot(config);
    const cases: [string[], RegExp][] = [
      [['vm', 'create', 'alice-web', '--cpus', '1', '--memory', '256M', '--disk', '64M'], /already exists/],
      [['vm', 'create', 'carol-x', '--cpus', String(hostCpus + 1), '--memory', '256M', '--disk', '64M'], /not enough free CPUs/],
      [['vm', 'create', 'carol-x', '--cpus', '1', '--memory', '256M', '--disk', '100G', '--no-network'], /volume group lvm-data has .* free, 100 GiB requested/],
      [['vm', 'create', 'carol-x', '--cpus', '1', '--memory', '256M', '--disk', '64M', '--bridge', pickBridge('alice-web')], /bridge br-vm\d is already used/],
    ];
    for (const [args, re] of cases) {
      const out = await r(args);
      assert.equal(out.code, 3, `${args.join(' ')}: ${out.stderr}`);
      assert.match(out.stderr, re);
      assert.equal(out.stderr.trim().split('\n').length, 1, 'one line');
      assert.equal(hostSnapshot(config), before, `${args.join(' ')} changed the host`);
    }
  });

  test('no free bridge: exit 3 before any change (bridges used by hand-made domains count)', async () => {
    const used = new Set([pickBridge('alice-web'), pickBridge('bob-db')]);
    const free = config.bridges.map((b) => b.name).filter((b) => !used.has(b));
    free.forEach((br, i) => {
      defineXml(`<domain type='qemu'><name>${handmade[i]}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><interface type='bridge'><source bridge='${br}'/></interface></devices></domain>`);
    });
    const before = hostSnapshot(config);
    const out = await r(['vm', 'create', 'carol-x', '--cpus', '1', '--memory', '256M', '--disk', '64M']);
    assert.equal(out.code, 3, out.stderr);
    assert.match(out.stderr, /no free bridge: all of br-vm1, .* are in use/);
    assert.equal(hostSnapshot(config), before);
    for (const h of handmade.slice(0, free.length)) sh(['virsh', '-c', 'qemu:///system', 'undefine', h]);
  });

  test('bad input exits 2 with one line and changes nothing', async () => {
    const before = hostSnapshot(config);
    const cases: [string[], RegExp][] = [
      [['vm', 'create', 'Alice-web', '--cpus', '1', '--memory', '256M', '--disk', '64M'], /invalid user "Alice"/],
      [['vm', 'create', 'alice', '--cpus', '1', '--memory', '256M', '--disk', '64M'], /expected USER-NAME/],
      [['vm', 'create', 'carol-x', '--cpus', '0', '--memory', '256M', '--disk', '64M'], /invalid CPU count/],
      [['vm', 'create', 'carol-x', '--cpus', 'two', '--memory', '256M', '--disk', '64M'], /invalid CPU count/],
      [['vm', 'create', 'carol-x', '--cpus', '1', '--memory', '-1G', '--disk', '64M'], /invalid memory size/],
      [['vm', 'create', 'carol-x', '--cpus', '1', '--memory', '256M', '--disk', 'lots'], /invalid disk size/],
      [['vm', 'create', 'carol-x', '--cpus', '1', '--memory', '256M', '--disk', '65M'], /multiple of 4 MiB/],
      [['vm', 'create', 'carol-x', '--cpus', '1', '--memory', '256M', '--disk', '64M', '--bridge', 'virbr0'], /unknown bridge/],
      [['vm', 'create', 'carol-x', '--cpus', '1', '--memory', '256M'], /--disk is required \(or a --flavor that gives it\)/],
      [['vm', 'destroy', 'alice-web'], /without a terminal.*--yes/],
    ];
    for (const [args, re] of cases) {
      const out = await r(args);
      assert.equal(out.code, 2, `${args.join(' ')}: ${out.stderr}`);
      assert.match(out.stderr, re);
      assert.equal(out.stderr.trim().split('\n').length, 1, 'one line');
    }
    assert.equal(hostSnapshot(config), before);
  });

  test('dry run prints the plan with the XML and the commands, changes nothing', async () => {
    const before = hostSnapshot(config);
    const out = await r(['vm', 'destroy', 'bob-db', '--dry-run', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const plan = out.json as { steps: { kind: string; commands: string[] }[] };
    assert.deepEqual(plan.steps.map((s) => s.kind), ['dns-remove', 'domain-undefine', 'domain-stop', 'seed-remove', 'lv-wipe', 'lv-remove']);
    assert.match(plan.steps[0]!.commands.join('\n'), /nsupdate -k \S+tsig.key[^]*update delete bob-db\.raptor\.test\. 300 IN A 198\.51\.100\.1\d/);
    assert.deepEqual(plan.steps[3]!.commands, [`rm -f ${config.seed_dir}/bob-db-cidata.img`]);
    assert.match(plan.steps[4]!.commands[0]!, /blkdiscard --zeroout \/dev\/lvm-data\/guest-bob-db/);
    assert.equal(hostSnapshot(config), before);
  });

  test('start, stop --force, reboot on a stopped VM', async () => {
    let out = await r(['vm', 'start', 'alice-web']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(sh(['virsh', '-c', 'qemu:///system', 'domstate', 'alice-web']).trim(), 'running');
    assert.ok(existsSync(`${config.nvram_dir}/alice-web_VARS.fd`), 'libvirt made the NVRAM from the template');
    out = await r(['vm', 'start', 'alice-web', '--json']);
    assert.deepEqual(out.json, { vm: 'alice-web', result: 'already running' });
    out = await r(['vm', 'stop', 'alice-web', '--force']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(sh(['virsh', '-c', 'qemu:///system', 'domstate', 'alice-web']).trim(), 'shut off');
    out = await r(['vm', 'reboot', 'alice-web']);
    assert.equal(out.code, 3, 'reboot of a stopped VM is a conflict');
  });

  test('destroy removes domain, NVRAM and LV; the LV bytes on the PV are zeros, the neighbour untouched', async () => {
    const pa = lvPlacement(config, 'guest-alice-web');
    const pb = lvPlacement(config, 'guest-bob-db');
    const pattern = Buffer.alloc(MiB, 0xa5);
    for (const dev of ['/dev/lvm-data/guest-alice-web', '/dev/lvm-data/guest-bob-db']) {
      for (const off of [0, 32 * MiB, 63 * MiB]) writeBytes(dev, off, pattern);
    }
    assert.ok(readBytes(pa.pv, pa.offset + 32 * MiB, MiB).equals(pattern), 'pattern visible at the LV placement on the PV');
    const out = await r(['vm', 'destroy', 'alice-web', '--yes', '--verify', 'full']);
    assert.equal(out.code, 0, out.stderr);
    assert.ok(!virshNames().includes('alice-web'));
    assert.ok(!nvramFiles(config).includes('alice-web_VARS.fd'));
    assert.ok(!lvList(config).some((l) => l.name === 'guest-alice-web'));
    const zeros = readBytes(pa.pv, pa.offset, pa.length);
    assert.equal(zeros.length, 64 * MiB);
    assert.ok(zeros.every((b) => b === 0), "the destroyed LV's extents on the PV are zero");
    for (const off of [0, 32 * MiB, 63 * MiB]) assert.ok(readBytes(pb.pv, pb.offset + off, MiB).equals(pattern), 'neighbour untouched');
    const again = await r(['vm', 'destroy', 'alice-web', '--yes']);
    assert.equal(again.code, 4, 'a second destroy finds nothing');
    const audit = sh(['tail', '-n', '3', config.audit_log]);
    assert.match(audit, /"command":"--config \S+ vm destroy alice-web --yes --verify full","plan":\[.*"result":"ok"/);
  });

  test('destroy refuses an LV that is open, before changing anything', async () => {
    // an exclusive open is how a mount or another claim looks to the kernel
    const fd = openSync('/dev/lvm-data/guest-bob-db', constants.O_RDONLY | constants.O_EXCL);
    try {
      const before = hostSnapshot(config);
      const out = await r(['vm', 'destroy', 'bob-db', '--yes']);
      assert.equal(out.code, 3, out.stderr);
      assert.match(out.stderr, new RegExp(`refusing to wipe /dev/lvm-data/guest-bob-db: the device is open: pid ${process.pid} \\(`));
      assert.equal(hostSnapshot(config), before);
    } finally {
      closeSync(fd);
    }
  });

  test('destroy --no-offload zeroes with direct writes', async () => {
    const pb = lvPlacement(config, 'guest-bob-db');
    const out = await r(['vm', 'destroy', 'bob-db', '--yes', '--no-offload', '--json']);
    assert.equal(out.code, 0, out.stderr);
    assert.ok(readBytes(pb.pv, pb.offset, pb.length).every((b) => b === 0));
    assert.ok(!lvList(config).some((l) => l.name === 'guest-bob-db'));
  });
});

function pickBridge(domain: string): string {
  return parseDomainXml(dumpxml(domain)).interfaces[0]!.bridge;
}
