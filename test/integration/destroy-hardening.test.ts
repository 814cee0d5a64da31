// Destroy that neither its owner nor a holder of the volume can break halfway, and a fragmented VG
// refused before any change (issue 9, items 2, 3 and 9), on the sandbox's real libvirtd, polkitd and LVM.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { cleanup, dnsAnswers, hostSnapshot, loadTestConfig, lvm, lvList, nvramFiles, raptor, readBytes, sh, testConfigPath, virshNames, writeBytes } from './lib/raptor.ts';
import { removeAccount, root, rootOk, URI, userExists, waitFor } from './lib/users.ts';

const MiB = 2 ** 20;
const OWNER = 'hdowner';
const BRIDGE = 'br-vm2';
const PTR4 = '12.100.51.198.in-addr.arpa';
const PTR6 = '2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa';

/** Run argv without waiting synchronously (the owner's loop runs beside raptor). */
function run(argv: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', env: { ...process.env, LC_ALL: 'C' } });
    c.on('close', (code) => resolve(code));
  });
}

/** The owner starting her domain again and again, as polkit lets her, until stopped. */
function ownerStartLoop(domain: string): { attempts: () => number; stop: () => Promise<{ attempts: number; started: number }> } {
  let stopping = false;
  let attempts = 0;
  let started = 0;
  const done = (async () => {
    while (!stopping) {
      attempts++;
      if ((await run(['runuser', '-u', OWNER, '--', 'virsh', '-c', URI, 'start', domain])) === 0) started++;
    }
  })();
  return {
    attempts: () => attempts,
    stop: async () => {
      stopping = true;
      await done;
      return { attempts, started };
    },
  };
}

describe('destroy hardening', { timeout: 600_000 }, () => {
  const cfgPath = testConfigPath();
  const config = loadTestConfig(cfgPath);
  const ids = [`${OWNER}-race`, `${OWNER}-off`, `${OWNER}-read`, `${OWNER}-loop`, `${OWNER}-mnt`, `${OWNER}-frag`];
  const fillers: string[] = [];
  const r = (args: string[]) => raptor(args, { config: cfgPath });
  const create = (id: string, start = false) => r(['vm', 'create', id, '--cpus', '1', '--memory', '128M', '--disk', '32M', '--bridge', BRIDGE, ...(start ? ['--start'] : [])]);
  const dnsState = (id: string) => ({
    a: dnsAnswers(config, `${id}.${config.dns.zone}`, 'A'),
    aaaa: dnsAnswers(config, `${id}.${config.dns.zone}`, 'AAAA'),
    ptr4: dnsAnswers(config, PTR4, 'PTR'),
    ptr6: dnsAnswers(config, PTR6, 'PTR'),
  });
  const assertGone = (id: string) => {
    assert.ok(!virshNames().includes(id), `${id}: a domain (persistent or transient) is left`);
    assert.ok(!lvList(config).some((l) => l.name === `guest-${id}`), `${id}: LV left`);
    assert.ok(!nvramFiles(config).includes(`${id}_VARS.fd`), `${id}: NVRAM left`);
    assert.deepEqual(dnsState(id), { a: [], aaaa: [], ptr4: [], ptr6: [] }, `${id}: DNS records left`);
  };
  const removeFillers = () => {
    for (const f of fillers.splice(0)) root([config.storage.lvm_command, 'lvremove', '-y', `${config.storage.vg}/${f}`]);
  };

  before(async () => {
    cleanup(config, ids);
    removeAccount(OWNER);
    const init = await raptor(['host', 'init'], { config: cfgPath });
    assert.equal(init.code, 0, init.stderr);
    rootOk(['useradd', '--create-home', '--shell', '/bin/bash', '--groups', config.access.user_group, OWNER]);
  });
  after(() => {
    removeFillers();
    cleanup(config, ids);
    if (userExists(OWNER)) removeAccount(OWNER);
  });

  for (const [id, how] of [
    [`${OWNER}-race`, 'while her loop keeps it running'],
    [`${OWNER}-off`, 'just after root forced it off, her loop racing to start it'],
  ] as const) {
    test(`the owner looping virsh start cannot break destroy (${how})`, async () => {
      const c = await create(id, true);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual(dnsState(id).a, ['198.51.100.12']);
      // the owner really can bring it back: root forces it off and her loop starts it again
      const loop = ownerStartLoop(id);
      let d;
      let during = 0;
      try {
        rootOk(['virsh', '-c', URI, 'destroy', id]);
        await waitFor('the owner to start her domain again', () => sh(['virsh', '-c', URI, 'domstate', id]).trim() === 'running', 30_000);
        if (id.endsWith('-off')) rootOk(['virsh', '-c', URI, 'destroy', id]);
        const t0 = loop.attempts();
        d = await r(['vm', 'destroy', id, '--yes']);
        during = loop.attempts() - t0;
      } finally {
        await loop.stop();
      }
      assert.equal(d.code, 0, d.stderr);
      assert.ok(during > 1, `the owner tried ${during} times during destroy`);
      console.log(`  ${id}: the owner ran virsh start ${during} times during destroy (${d.stderr.trim().split("\n").length} progress lines)`);
      // a transient domain would show up here while running; give a late start the chance to land
      await new Promise((res) => setTimeout(res, 1000));
      assertGone(id);
    });
  }

  test('a reader holding the LV open: exit 3 naming the pid before any change; the bytes stay; then destroy succeeds', async () => {
    const id = `${OWNER}-read`;
    const c = await create(id);
    assert.equal(c.code, 0, c.stderr);
    const dev = `/dev/${config.storage.vg}/guest-${id}`;
    const pattern = Buffer.alloc(MiB, 0x5a);
    writeBytes(dev, 0, pattern);
    writeBytes(dev, 31 * MiB, pattern);
    // `sleep 300 < /dev/lvm-data/guest-X &`: stdin is the device
    const fd = openSync(dev, 'r');
    let reader: ChildProcess | undefined;
    try {
      reader = spawn('sleep', ['300'], { stdio: [fd, 'ignore', 'ignore'] });
      closeSync(fd);
      const snap = hostSnapshot(config);
      const dns = dnsState(id);
      assert.deepEqual(dns.a, ['198.51.100.12']);
      for (const args of [['vm', 'destroy', id, '--yes'], ['vm', 'destroy', id, '--dry-run']]) {
        const out = await r(args);
        assert.equal(out.code, 3, `${args.join(' ')}: ${out.stderr}`);
        assert.match(out.stderr, new RegExp(`refusing to wipe ${dev}: the device is open: pid ${reader.pid} \\(sleep 300\\)`));
        assert.equal(out.stderr.trim().split('\n').length, 1, 'one line');
        assert.equal(hostSnapshot(config), snap, 'host unchanged');
        assert.deepEqual(dnsState(id), dns, 'DNS unchanged');
      }
      assert.ok(readBytes(dev, 0, MiB).equals(pattern) && readBytes(dev, 31 * MiB, MiB).equals(pattern), 'LV bytes unchanged (not zeroed)');

      // running, its own qemu holds the LV too: that one does not count, the reader still does
      rootOk(['runuser', '-u', OWNER, '--', 'virsh', '-c', URI, 'start', id]);
      const running = await r(['vm', 'destroy', id, '--yes']);
      assert.equal(running.code, 3, running.stderr);
      assert.match(running.stderr, new RegExp(`the device is open: pid ${reader.pid} \\(sleep 300\\)$`, 'm'), 'only the reader is named');
      assert.doesNotMatch(running.stderr, /qemu/);
      assert.equal(sh(['virsh', '-c', URI, 'domstate', id]).trim(), 'running');
      assert.deepEqual(dnsState(id), dns);
    } finally {
      reader?.kill('SIGKILL');
    }
    await new Promise((res) => reader!.once('close', res));
    const d = await r(['vm', 'destroy', id, '--yes']);
    assert.equal(d.code, 0, d.stderr);
    assertGone(id);
  });

  test('a loop device over the LV (a kernel user, no process): exit 3 before any change; free again, destroy succeeds', async () => {
    const id = `${OWNER}-loop`;
    const c = await create(id);
    assert.equal(c.code, 0, c.stderr);
    const dev = `/dev/${config.storage.vg}/guest-${id}`;
    const loop = rootOk(['losetup', '--find', '--show', '--read-only', dev]).trim();
    try {
      const snap = hostSnapshot(config);
      const dns = dnsState(id);
      const out = await r(['vm', 'destroy', id, '--yes']);
      assert.equal(out.code, 3, out.stderr);
      assert.match(out.stderr, new RegExp(`the device is open: loop device ${loop} over it`));
      assert.equal(hostSnapshot(config), snap);
      assert.deepEqual(dnsState(id), dns);
    } finally {
      root(['losetup', '-d', loop]);
    }
    const d = await r(['vm', 'destroy', id, '--yes']);
    assert.equal(d.code, 0, d.stderr);
    assertGone(id);
  });

  test('an inactive LV (no device to wipe): exit 3 before any change; activated, destroy succeeds', async () => {
    const id = `${OWNER}-loop`;
    const c = await create(id);
    assert.equal(c.code, 0, c.stderr);
    lvm(config, ['lvchange', '-an', `${config.storage.vg}/guest-${id}`]);
    const snap = hostSnapshot(config);
    const dns = dnsState(id);
    const out = await r(['vm', 'destroy', id, '--yes']);
    assert.equal(out.code, 3, out.stderr);
    assert.match(out.stderr, new RegExp(`cannot be wiped \\(activate it first: lvchange -ay ${config.storage.vg}/guest-${id}\\)`));
    assert.equal(hostSnapshot(config), snap);
    assert.deepEqual(dnsState(id), dns);
    lvm(config, ['lvchange', '-ay', `${config.storage.vg}/guest-${id}`]);
    const d = await r(['vm', 'destroy', id, '--yes']);
    assert.equal(d.code, 0, d.stderr);
    assertGone(id);
  });

  test('a mounted LV: exit 3 naming the mount before any change', async () => {
    const id = `${OWNER}-mnt`;
    const c = await create(id);
    assert.equal(c.code, 0, c.stderr);
    const dev = `/dev/${config.storage.vg}/guest-${id}`;
    rootOk(['mkfs.ext4', '-q', '-F', dev]);
    const dir = rootOk(['mktemp', '-d', '/tmp/raptor-hd-mnt.XXXXXX']).trim();
    rootOk(['mount', dev, dir]);
    try {
      const snap = hostSnapshot(config);
      const out = await r(['vm', 'destroy', id, '--yes']);
      assert.equal(out.code, 3, out.stderr);
      assert.match(out.stderr, new RegExp(`the device is open: mounted on ${dir}`));
      assert.equal(hostSnapshot(config), snap);
    } finally {
      root(['umount', dir]);
      root(['rmdir', dir]);
    }
    const d = await r(['vm', 'destroy', id, '--yes']);
    assert.equal(d.code, 0, d.stderr);
    assertGone(id);
  });

  test('fragmented VG under contiguous allocation: exit 3 with the pieces named, nothing changed; a size that fits a hole succeeds', async () => {
    const vgName = config.storage.vg;
    const vgs = JSON.parse(lvm(config, ['vgs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'vg_allocation_policy,vg_extent_size', vgName])) as { report: { vg: Record<string, string>[] }[] };
    assert.equal(vgs.report[0]!.vg[0]!.vg_allocation_policy, 'contiguous', 'the sandbox VG allocates contiguously');
    const ext = Number(vgs.report[0]!.vg[0]!.vg_extent_size);
    const segs = JSON.parse(lvm(config, ['pvs', '--segments', '--reportformat', 'json', '-o', 'pv_name,pvseg_start,pvseg_size,lv_name', '-S', `vg_name=${vgName}`])) as { report: { pvseg: Record<string, string>[] }[] };
    const free = segs.report[0]!.pvseg.filter((s) => !s.lv_name).map((s) => ({ pv: s.pv_name!, start: Number(s.pvseg_start), size: Number(s.pvseg_size) }));
    const big = free.reduce((a, b) => (b.size > a.size ? b : a));
    const HOLE = 16; // extents: 64 MiB with the sandbox's 4 MiB extents
    assert.ok(big.size > 4 * HOLE, 'room to make holes');
    // fill every free piece, the largest as five LVs; then remove the 2nd and 4th: two separate holes
    const place = (name: string, pv: string, start: number, size: number) => {
      fillers.push(name);
      lvm(config, ['lvcreate', '-y', '-l', String(size), '-n', name, vgName, `${pv}:${start}-${start + size - 1}`]);
    };
    free.filter((p) => p !== big).forEach((p, i) => place(`hdfill-x${i}`, p.pv, p.start, p.size));
    for (let i = 0; i < 4; i++) place(`hdfill-${i}`, big.pv, big.start + i * HOLE, HOLE);
    place('hdfill-4', big.pv, big.start + 4 * HOLE, big.size - 4 * HOLE);
    for (const hole of ['hdfill-1', 'hdfill-3']) {
      lvm(config, ['lvremove', '-y', `${vgName}/${hole}`]);
      fillers.splice(fillers.indexOf(hole), 1);
    }
    const holeMiB = (HOLE * ext) / MiB;
    const id = `${OWNER}-frag`;
    const snap = hostSnapshot(config);
    const tooBig = await r(['vm', 'create', id, '--cpus', '1', '--memory', '128M', '--disk', `${holeMiB + ext / MiB}M`, '--no-network']);
    assert.equal(tooBig.code, 3, tooBig.stderr);
    assert.equal(
      tooBig.stderr.trim(),
      `raptor: volume group ${vgName} allocates contiguously and its largest contiguous free piece is ${holeMiB} MiB, ${holeMiB + ext / MiB} MiB requested (${2 * holeMiB} MiB free in 2 pieces)`,
    );
    assert.equal(hostSnapshot(config), snap, 'nothing changed');
    const fits = await r(['vm', 'create', id, '--cpus', '1', '--memory', '128M', '--disk', `${holeMiB}M`, '--no-network']);
    assert.equal(fits.code, 0, fits.stderr);
    assert.equal(lvList(config).find((l) => l.name === `guest-${id}`)?.sizeBytes, holeMiB * MiB);
    const d = await r(['vm', 'destroy', id, '--yes']);
    assert.equal(d.code, 0, d.stderr);
    removeFillers();
  });
});
