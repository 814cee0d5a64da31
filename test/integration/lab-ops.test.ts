// Lab operations against the sandbox: quotas refuse before any change, a running guest sees its
// grown disk, CPUs are re-pinned without overlap (pending pins count), expired VMs are reaped
// with the wipe, and --dry-run changes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, constants, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { parseDomainXml } from '../../src/libvirt/domain-xml.ts';
import { cleanup, dumpxml, hostSnapshot, loadTestConfig, lvList, lvPlacement, raptor, readBytes, sh, testConfigPath, writeBytes } from './lib/raptor.ts';
import { raptorAs, removeAccount } from './lib/users.ts';

const MiB = 2 ** 20;
const ROOT = new URL('../../', import.meta.url).pathname;
const virsh = (...args: string[]) => sh(['virsh', '-c', 'qemu:///system', ...args]);

// the sandbox host has 2 CPUs and cpus.reserved = "": two 1-CPU VMs fill it
const cfgPath = (() => {
  const base = testConfigPath();
  const path = base.replace(/\.toml$/, '-lab.toml');
  writeFileSync(path, `${readFileSync(base, 'utf8')}\n[quotas]\nvms = 3\nvcpus = 2\nmemory = "1G"\ndisk = "512M"\n\n[quotas.users.lopsb]\nvms = 1\n`);
  chmodSync(path, 0o644);
  return path;
})();
const config = loadTestConfig(cfgPath);
const r = (args: string[]) => raptor(args, { config: cfgPath });
const VMS = ['lopsa-q1', 'lopsa-q2', 'lopsb-disk', 'lopsa-c', 'lopsa-e1', 'lopsa-e2', 'lopsa-e3'];
const USERS = ['lopsa'];

function auditLines(): Record<string, unknown>[] {
  try {
    return readFileSync(config.audit_log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}

/** Type a command on the guest's VirtIO console (its pty) and wait for `re` in the console log. */
async function guestSays(domain: string, command: string, re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  const tty = /<console type=['"]pty['"] tty=['"]([^'"]+)['"]/.exec(dumpxml(domain))?.[1];
  assert.ok(tty, `${domain} has a pty console`);
  const log = `${config.console_log_dir}/${domain}-console.log`;
  const seen = readFileSync(log, 'utf8').length;
  // held open while waiting: qemu reads the pty only while someone is attached
  const fd = openSync(tty, constants.O_WRONLY | constants.O_NOCTTY);
  try {
    const t0 = Date.now();
    let sent = 0;
    for (;;) {
      if (Date.now() - sent > 10_000) {
        writeSync(fd, `${command}\n`);
        sent = Date.now();
      }
      const m = re.exec(readFileSync(log, 'utf8').slice(seen));
      if (m) return m;
      if (Date.now() - t0 > timeoutMs) throw new Error(`no ${re} on ${domain}'s console after ${command}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  } finally {
    closeSync(fd);
  }
}

describe('lab operations', () => {
  before(() => {
    cleanup(config, VMS);
    for (const u of USERS) removeAccount(u);
  });
  after(() => {
    cleanup(config, VMS);
    for (const u of USERS) removeAccount(u);
  });

  test('quota: a create past it is exit 3 naming quota and use, nothing changed; --ignore-quota goes through, audited', async () => {
    try {
      await quotaChecks();
    } finally {
      cleanup(config, ['lopsa-q1', 'lopsa-q2']);
    }
  });

  async function quotaChecks(): Promise<void> {
    assert.equal((await r(['user', 'add', 'lopsa'])).code, 0);
    let out = await r(['vm', 'create', 'lopsa-q1', '--cpus', '1', '--memory', '256M', '--disk', '64M', '--no-network']);
    assert.equal(out.code, 0, out.stderr);
    const before = hostSnapshot(config);
    out = await r(['vm', 'create', 'lopsa-q2', '--cpus', '1', '--memory', '1G', '--disk', '64M', '--no-network']);
    assert.equal(out.code, 3, out.stderr);
    assert.equal(out.stderr.trim(), 'raptor: quota of lopsa exceeded: memory 256 MiB of 1 GiB in use, 1 GiB more requested (an admin may pass --ignore-quota)');
    out = await r(['vm', 'create', 'lopsa-q2', '--cpus', '1', '--memory', '256M', '--disk', '512M', '--no-network']);
    assert.equal(out.code, 3);
    assert.match(out.stderr, /disk 64 MiB of 512 MiB in use, 512 MiB more requested/);
    assert.equal(hostSnapshot(config), before, 'refused creates changed nothing');

    out = await r(['vm', 'create', 'lopsa-q2', '--cpus', '1', '--memory', '1G', '--disk', '64M', '--no-network', '--ignore-quota']);
    assert.equal(out.code, 0, out.stderr);
    const entry = auditLines().filter((e) => String(e.command).includes('vm create lopsa-q2')).pop();
    assert.equal(entry?.ignoreQuota, true, 'the audit log records the override');
    assert.equal(entry?.result, 'ok');

    // use against quota, counted from the host
    const list = await r(['user', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const me = (list.json as { user: string; use: object; quota: object }[]).find((u) => u.user === 'lopsa');
    assert.deepEqual(me?.use, { vms: 2, vcpus: 2, memoryBytes: 1280 * MiB, diskBytes: 128 * MiB });
    assert.deepEqual(me?.quota, { vms: 3, vcpus: 2, memoryBytes: 1024 * MiB, diskBytes: 512 * MiB });
    const human = await r(['user', 'list']);
    assert.match(human.stdout, /^lopsa\s+\d+\s+\S+\s+2\/3\s+2\/2\s+1\.3 GiB\/1 GiB\s+128 MiB\/512 MiB\s+lopsa-q1, lopsa-q2$/m);
    // a resize past the quota is refused the same way
    const snap = hostSnapshot(config);
    out = await r(['vm', 'resize', 'lopsa-q1', '--disk', '+512M']);
    assert.equal(out.code, 3);
    assert.match(out.stderr, /quota of lopsa exceeded: disk 128 MiB of 512 MiB in use, 512 MiB more requested/);
    assert.equal(hostSnapshot(config), snap);
  }

  test('disk: grows with lvextend, the running guest sees the new size; a shrink is exit 2; dry run changes nothing', { timeout: 300_000 }, async () => {
    // a copy of its own: other work may rebuild the shared default image from another recipe meanwhile
    const image = sh([`${ROOT}scripts/guest-image`, '--out', '/var/cache/raptor/lab-ops-guest.img']).trim().split('\n').pop()!;
    let out = await r(['vm', 'create', 'lopsb-disk', '--cpus', '1', '--memory', '512M', '--disk', '64M', '--image', image, '--start', '--wait-for', 'raptor-guest: ready', '--timeout', '180']);
    assert.equal(out.code, 0, out.stderr);
    const sectors = async () => Number((await guestSays('lopsb-disk', 'echo "lo-size=$(cat /sys/block/vda/size)"', /lo-size=(\d+)/))[1]);
    assert.equal(await sectors(), (64 * MiB) / 512, 'the guest starts with 64 MiB');

    const before = hostSnapshot(config);
    const dry = await r(['vm', 'resize', 'lopsb-disk', '--disk', '+64M', '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    const plan = dry.json as { steps: { kind: string; commands: string[] }[] };
    assert.deepEqual(plan.steps.map((s) => s.kind), ['lv-extend', 'domain-blockresize']);
    assert.deepEqual(plan.steps[0]!.commands, [`lvextend -L ${128 * MiB}b lvm-data/guest-lopsb-disk`]);
    assert.deepEqual(plan.steps[1]!.commands, [`virsh -c qemu:///system blockresize lopsb-disk vda --size ${128 * MiB}B`]);
    assert.equal(hostSnapshot(config), before, 'dry run changed nothing');

    out = await r(['vm', 'resize', 'lopsb-disk', '--disk', '64M']);
    assert.deepEqual([out.code, /disk: already 64 MiB, unchanged/.test(out.stdout)], [0, true], 'the same size changes nothing');
    for (const [arg, re] of [['32M', /disks only grow/], ['-32M', /disks only grow/], ['+1M', /multiple of 4 MiB/], ['+lots', /invalid disk size/]] as const) {
      out = await r(['vm', 'resize', 'lopsb-disk', '--disk', arg]);
      assert.equal(out.code, 2, `${arg}: ${out.stderr}`);
      assert.match(out.stderr, re);
    }
    assert.equal(hostSnapshot(config), before, 'refused resizes changed nothing');

    out = await r(['vm', 'resize', 'lopsb-disk', '--disk', '+64M']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /cloud-init guest grows its root partition on the next boot/);
    assert.equal(lvList(config).find((l) => l.name === 'guest-lopsb-disk')?.sizeBytes, 128 * MiB);
    assert.match(virsh('domblkinfo', 'lopsb-disk', 'vda'), /^Capacity:\s+134217728$/m);
    assert.equal(await sectors(), (128 * MiB) / 512, 'the running guest sees 128 MiB');
    const show = await r(['vm', 'show', 'lopsb-disk', '--json']);
    assert.equal((show.json as { disk: { sizeBytes: number } }).disk.sizeBytes, 128 * MiB);
  });

  test('memory and CPUs: persistent definition now, live from the next boot, vm show says so; pending CPUs are taken', { timeout: 300_000 }, async () => {
    const live0 = parseDomainXml(dumpxml('lopsb-disk'));
    assert.equal(live0.vcpus, 1);
    let out = await r(['vm', 'resize', 'lopsb-disk', '--cpus', '2', '--memory', '768M']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /memory: 768 MiB from the next boot \(not live: the domain has no memory balloon\)/);
    const inactive = parseDomainXml(virsh('dumpxml', '--inactive', 'lopsb-disk'));
    assert.deepEqual([inactive.vcpus, inactive.vcpuPins, inactive.emulatorSet, inactive.memoryMiB], [2, [0, 1], [0, 1], 768]);
    const live = parseDomainXml(dumpxml('lopsb-disk'));
    assert.deepEqual([live.vcpus, live.vcpuPins, live.memoryMiB], [1, live0.vcpuPins, 512], 'the running guest keeps what it booted with');
    let show = await r(['vm', 'show', 'lopsb-disk', '--json']);
    assert.deepEqual((show.json as { pending: unknown }).pending, { vcpus: 2, cpuset: [0, 1], emulatorCpuset: [0, 1], memoryMiB: 768 });
    const human = await r(['vm', 'show', 'lopsb-disk']);
    assert.match(human.stdout, /^pending\s+from the next boot: 2 vCPUs on host CPUs 0-1, emulator on 0-1, memory 768 MiB$/m);

    // CPU 1 is free now but promised to lopsb-disk's next boot: a new VM must not get it
    let before = hostSnapshot(config);
    out = await r(['vm', 'create', 'lopsa-c', '--cpus', '1', '--memory', '128M', '--disk', '64M', '--no-network']);
    assert.equal(out.code, 3, out.stderr);
    assert.match(out.stderr, /not enough free CPUs: 1 requested, 0 free/);
    assert.equal(hostSnapshot(config), before);

    // the next boot takes the new definition
    assert.equal((await r(['vm', 'stop', 'lopsb-disk', '--force'])).code, 0);
    assert.equal((await r(['vm', 'start', 'lopsb-disk'])).code, 0);
    const booted = parseDomainXml(dumpxml('lopsb-disk'));
    assert.deepEqual([booted.vcpus, booted.vcpuPins, booted.memoryMiB], [2, [0, 1], 768]);
    show = await r(['vm', 'show', 'lopsb-disk', '--json']);
    assert.equal((show.json as { pending: unknown }).pending, null);

    // back to one CPU and off: the other CPU goes to a new VM, and the two never overlap
    out = await r(['vm', 'resize', 'lopsb-disk', '--cpus', '1']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal((await r(['vm', 'stop', 'lopsb-disk', '--force'])).code, 0);
    out = await r(['vm', 'create', 'lopsa-c', '--cpus', '1', '--memory', '128M', '--disk', '64M', '--no-network']);
    assert.equal(out.code, 0, out.stderr);
    const a = parseDomainXml(virsh('dumpxml', '--inactive', 'lopsb-disk'));
    const c = parseDomainXml(dumpxml('lopsa-c'));
    assert.deepEqual([a.vcpuPins, c.vcpuPins], [[0], [1]]);
    before = hostSnapshot(config);
    const xmlBefore = virsh('dumpxml', '--inactive', 'lopsb-disk');
    out = await r(['vm', 'resize', 'lopsb-disk', '--cpus', '2']);
    assert.equal(out.code, 3, out.stderr);
    assert.match(out.stderr, /not enough free CPUs: 2 requested, 1 free .*pinned by domains 1/);
    assert.equal(hostSnapshot(config), before);
    assert.equal(virsh('dumpxml', '--inactive', 'lopsb-disk'), xmlBefore, 'the refused resize left the definition alone');
    cleanup(config, ['lopsb-disk', 'lopsa-c']);
  });

  test('expiry: kept in the metadata, shown, warned about; list --expired; reap --dry-run changes nothing; reap wipes, continues past a failure', { timeout: 300_000 }, async () => {
    const base = ['--cpus', '1', '--memory', '128M', '--disk', '64M', '--no-network'];
    let before = hostSnapshot(config);
    for (const [when, re] of [['2020-01-01', /in the past/], ['soon', /invalid expiry "soon"/], ['2027-02-30', /no such date/]] as const) {
      const out = await r(['vm', 'create', 'lopsa-e1', ...base, '--expires', when]);
      assert.equal(out.code, 2, out.stderr);
      assert.match(out.stderr, re);
    }
    assert.equal(hostSnapshot(config), before);

    // two VMs at a time: the sandbox has two host CPUs
    let out = await r(['vm', 'create', 'lopsa-e1', ...base, '--expires', '90d']);
    assert.equal(out.code, 0, out.stderr);
    out = await r(['vm', 'create', 'lopsa-e2', ...base, '--expires', '2030-01-01', '--start']);
    assert.equal(out.code, 0, out.stderr);
    const md = parseDomainXml(virsh('dumpxml', '--inactive', 'lopsa-e1')).metadata;
    const in90d = Date.now() + 90 * 86_400_000;
    assert.ok(md?.expires && Math.abs(Date.parse(md.expires) - in90d) < 120_000, `expires in 90 days: ${md?.expires}`);
    let list = (await r(['vm', 'list', '--user', 'lopsa', '--json'])).json as { name: string; expires: string | null }[];
    assert.deepEqual(list.map((v) => [v.name, v.expires]), [['lopsa-e1', md!.expires], ['lopsa-e2', '2030-01-01T00:00:00.000Z']]);

    // the owner sees it, and the warning once it is within 7 days
    let show = raptorAs('lopsa', cfgPath, ['vm', 'show', 'lopsa-e1', '--json']);
    assert.equal(show.code, 0, show.stderr);
    assert.equal((JSON.parse(show.stdout) as { expires: string }).expires, md!.expires);
    assert.equal(show.stderr, '', 'no warning 90 days ahead');
    out = await r(['vm', 'expire', 'lopsa-e1', '3d']);
    assert.equal(out.code, 0, out.stderr);
    show = raptorAs('lopsa', cfgPath, ['vm', 'show', 'lopsa-e1']);
    assert.match(show.stdout, /^expires\s+\d{4}-/m);
    assert.match(show.stderr, /^raptor: warning: lopsa-e1 expires at \S+ \(in 2 days\)/);
    assert.equal(raptorAs('lopsa', cfgPath, ['vm', 'expire', 'lopsa-e1', 'never']).code, 5, 'owners cannot change their expiry');
    before = hostSnapshot(config);
    out = await r(['vm', 'expire', 'lopsa-e1', '2020-01-01']);
    assert.equal(out.code, 2, 'a past date is bad input; "now" expires at once');
    assert.equal((await r(['vm', 'expire', 'lopsa-nosuch', 'now'])).code, 4);

    // only what has expired is listed: e1 now, e2 (running: its live definition changes too) later
    assert.equal((await r(['vm', 'expire', 'lopsa-e1', 'now'])).code, 0);
    let expired = (await r(['vm', 'list', '--expired', '--json'])).json as { name: string }[];
    assert.deepEqual(expired.map((v) => v.name), ['lopsa-e1']);
    assert.equal((await r(['vm', 'expire', 'lopsa-e2', 'now'])).code, 0);
    assert.ok(Date.parse(parseDomainXml(dumpxml('lopsa-e2')).metadata!.expires!) <= Date.now(), 'the live definition has the new expiry');
    expired = (await r(['vm', 'list', '--expired', '--json'])).json as { name: string }[];
    assert.deepEqual(expired.map((v) => v.name), ['lopsa-e1', 'lopsa-e2']);
    assert.equal(hostSnapshot(config), before, 'expiry lives in the metadata: no domain, volume or NVRAM changed');

    const dry = await r(['vm', 'reap', '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    const dp = dry.json as { vms: { vm: string; steps: { kind: string }[] }[] };
    assert.deepEqual(dp.vms.map((v) => v.vm), ['lopsa-e1', 'lopsa-e2']);
    const kinds = dp.vms[1]!.steps.map((s) => s.kind);
    for (const k of ['domain-stop', 'domain-undefine', 'lv-wipe', 'lv-remove']) assert.ok(kinds.includes(k), `the normal destroy, wipe included: ${kinds.join(', ')}`);
    assert.equal(hostSnapshot(config), before, 'reap --dry-run changed nothing');

    // e2's bytes, to find them zeroed on the PV; e1's volume held open so its destroy fails first
    const place = lvPlacement(config, 'guest-lopsa-e2');
    const pattern = Buffer.alloc(MiB, 0xa5);
    for (const off of [0, 32 * MiB, 63 * MiB]) writeBytes('/dev/lvm-data/guest-lopsa-e2', off, pattern);
    assert.ok(readBytes(place.pv, place.offset + 32 * MiB, MiB).equals(pattern));
    // an exclusive open is how a mount or another claim looks to the kernel
    const holder = openSync('/dev/lvm-data/guest-lopsa-e1', constants.O_RDONLY | constants.O_EXCL);
    const auditBefore = auditLines().length;
    try {
      out = await r(['vm', 'reap', '--json']);
    } finally {
      closeSync(holder);
    }
    assert.equal(out.code, 1, 'a VM that could not be reaped makes the run fail');
    const reaped = (out.json as { reaped: { vm: string; result: string; error?: string }[] }).reaped;
    assert.deepEqual(reaped.map((x) => [x.vm, x.result]), [['lopsa-e1', 'failed'], ['lopsa-e2', 'destroyed']], 'it went on past the failure');
    assert.match(reaped[0]!.error!, /the device is open/);
    assert.ok(!virsh('list', '--all', '--name').includes('lopsa-e2'));
    assert.ok(readBytes(place.pv, place.offset, 64 * MiB).equals(Buffer.alloc(64 * MiB)), "e2's extents on the PV are zeros");
    const audit = auditLines().slice(auditBefore);
    assert.equal(audit.length, 1, 'one audit entry per destroyed VM (the refused one changed nothing)');
    assert.match(JSON.stringify(audit[0]!.plan), /zero \/dev\/lvm-data\/guest-lopsa-e2/);
    assert.equal(audit[0]!.result, 'ok');

    // the rerun finishes the one left; a VM that has not expired stays
    out = await r(['vm', 'create', 'lopsa-e3', ...base]);
    assert.equal(out.code, 0, out.stderr);
    out = await r(['vm', 'reap']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^lopsa-e1: destroyed \(expired \S+\)$/m);
    list = (await r(['vm', 'list', '--user', 'lopsa', '--json'])).json as { name: string; expires: string | null }[];
    assert.deepEqual(list.map((v) => [v.name, v.expires]), [['lopsa-e3', null]]);
    assert.ok(!lvList(config).some((l) => l.name === 'guest-lopsa-e1' || l.name === 'guest-lopsa-e2'));
    out = await r(['vm', 'reap']);
    assert.deepEqual([out.code, out.stdout.trim()], [0, 'no VM has expired']);
  });
});
