// Integration test of the sandbox built by `scripts/sandbox up` (see docs/sandbox.md).
// Assumes the sandbox is up; run as root:
//   node --import tsx --test test/integration/sandbox.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, chmodSync, openSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const STATE = '/run/raptor-sandbox';
const CONFIG = `${STATE}/raptor.toml`;
const LVM = `${STATE}/bin/lvm`;
const VG = 'lvm-data';
const URI = 'qemu:///system';
const SANDBOX = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/sandbox');
const TAG = `sbxt${process.pid}`;
const MiB = 1024 * 1024;

function requireSandbox(): void {
  assert.ok(
    existsSync(CONFIG),
    `${CONFIG} is missing: the sandbox is not up. Run \`sudo scripts/sandbox up\` first.`,
  );
  assert.equal(process.getuid?.(), 0, 'the sandbox integration test must run as root');
}

function run(cmd: string, args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...opts });
}

function tryRun(cmd: string, args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

type Row = Record<string, string>;

/** Rows of one report (`lv`, `seg`, `pv`, `vg`) of `lvm <cmd> --reportformat json`. */
function lvmRows(args: string[], key: string): Row[] {
  const out = JSON.parse(run(LVM, [...args, '--reportformat', 'json'])) as { report: Record<string, Row[]>[] };
  return out.report[0]?.[key] ?? [];
}

function field(row: Row | undefined, name: string): string {
  const v = row?.[name];
  assert.ok(v !== undefined, `LVM report lacks ${name}`);
  return v;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Read `length` bytes at `offset` of a block device, bypassing the page cache. */
function readDirect(dev: string, offset: number, length: number): Buffer {
  assert.equal(offset % MiB, 0);
  assert.equal(length % MiB, 0);
  return execFileSync('dd', [`if=${dev}`, 'bs=1M', `skip=${offset / MiB}`, `count=${length / MiB}`, 'iflag=direct', 'status=none'], {
    maxBuffer: length + MiB,
  });
}

function writeDirect(dev: string, offset: number, data: Buffer): void {
  execFileSync('dd', [`of=${dev}`, 'bs=1M', `seek=${offset / MiB}`, 'oflag=direct', 'conv=notrunc,fsync', 'status=none'], { input: data });
}

/** Where an LV lives on its PV, computed from LVM's own reports. */
function lvPlace(lv: string): { pv: string; offset: number; size: number } {
  const segs = lvmRows(['lvs', '--segments', '-o', 'lv_name,seg_start_pe,seg_size_pe,seg_pe_ranges,devices', '--units', 'b', VG], 'seg')
    .filter((s) => s.lv_name === lv);
  assert.equal(segs.length, 1, `${lv} must be one contiguous segment`);
  const devices = field(segs[0], 'devices');
  const m = /^(.+)\((\d+)\)$/.exec(devices);
  assert.ok(m?.[1] !== undefined && m[2] !== undefined, `unexpected devices field ${devices}`);
  const pv = m[1];
  const peStart = Number(field(lvmRows(['pvs', '-o', 'pv_name,pe_start', '--units', 'b', '--nosuffix', pv], 'pv')[0], 'pe_start'));
  const extent = Number(field(lvmRows(['vgs', '-o', 'vg_extent_size', '--units', 'b', '--nosuffix', VG], 'vg')[0], 'vg_extent_size'));
  return { pv, offset: peStart + Number(m[2]) * extent, size: Number(field(segs[0], 'seg_size_pe')) * extent };
}

test('status reports every component up', () => {
  requireSandbox();
  const r = tryRun(SANDBOX, ['status']);
  assert.equal(r.status, 0, `scripts/sandbox status exited ${r.status}:\n${r.stdout}${r.stderr}`);
  for (const c of ['dbus', 'polkitd', 'virtlogd', 'libvirtd', 'lvm', 'network', 'dnsmasq', 'named', 'config']) {
    assert.match(r.stdout, new RegExp(`^${c}\\s+up`, 'm'));
  }
});

test('raptor.toml points at the sandbox', () => {
  requireSandbox();
  const toml = readFileSync(CONFIG, 'utf8');
  assert.match(toml, /^libvirt_uri = "qemu:\/\/\/system"$/m);
  assert.match(toml, /^domain_type = "qemu"$/m);
  assert.match(toml, /^lvm_command = "\/run\/raptor-sandbox\/bin\/lvm"$/m);
  assert.equal((toml.match(/^\[\[bridges\]\]$/gm) ?? []).length, 5);
  for (const m of toml.matchAll(/^(?:code|vars) = "([^"]+)"$/gm)) {
    assert.ok(m[1] !== undefined && existsSync(m[1]), `firmware ${m[1]} missing`);
  }
});

test('libvirt answers on qemu:///system with the polkit access driver', () => {
  requireSandbox();
  assert.equal(run('virsh', ['-c', URI, 'uri']).trim(), URI);
  assert.match(readFileSync(`${STATE}/libvirtd.conf`, 'utf8'), /^access_drivers = \[ "polkit" \]$/m);
  assert.ok(existsSync('/var/lib/libvirt/qemu/nvram'));

  // A user that polkit lets connect (org.libvirt.unix.manage and the connect.* API actions; raptor's
  // own rules, once installed, say NO to outsiders for everything else) but grants no domain
  // action: listing works, defining is refused by the access driver.
  const user = TAG;
  const rules = `/etc/polkit-1/rules.d/39-${TAG}.rules`;
  const home = mkdtempSync(join(tmpdir(), `${TAG}-`));
  const xml = join(home, 'dom.xml');
  try {
    run('useradd', ['--system', '--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', user]);
    run('chown', [user, home]);
    writeFileSync(
      rules,
      `polkit.addRule(function(action, subject) {\n` +
        `  if (subject.user == "${user}" && (action.id == "org.libvirt.unix.manage" || action.id.indexOf("org.libvirt.api.connect.") == 0)) return polkit.Result.YES;\n` +
        `});\n`,
    );
    writeFileSync(xml, `<domain type="qemu"><name>${TAG}-denied</name><memory unit="MiB">64</memory><os><type arch="x86_64" machine="q35">hvm</type></os></domain>`);
    chmodSync(xml, 0o644);
    const env = { ...process.env, HOME: home, XDG_CACHE_HOME: home, XDG_CONFIG_HOME: home, XDG_RUNTIME_DIR: home };
    const asUser = (args: string[]) => tryRun('runuser', ['-u', user, '--', 'virsh', '-c', URI, ...args], { env });
    let list = asUser(['list', '--all', '--name']);
    for (let i = 0; i < 50 && list.status !== 0; i++) {
      sleep(200); // polkitd picks up new rules files asynchronously
      list = asUser(['list', '--all', '--name']);
    }
    assert.equal(list.status, 0, `unprivileged connect failed: ${list.stderr}`);
    const def = asUser(['define', xml]);
    assert.notEqual(def.status, 0, 'an unprivileged user could define a domain: access driver not active');
    assert.match(def.stderr, /access denied/i);
  } finally {
    rmSync(rules, { force: true });
    tryRun('virsh', ['-c', URI, 'undefine', `${TAG}-denied`]);
    tryRun('userdel', [user]);
    rmSync(home, { recursive: true, force: true });
  }
});

test('VG lvm-data exists with at least 8 GiB', () => {
  requireSandbox();
  const vg = lvmRows(['vgs', '-o', 'vg_name,vg_size,vg_extent_size,vg_allocation_policy', '--units', 'b', '--nosuffix', VG], 'vg')[0];
  assert.equal(field(vg, 'vg_name'), VG);
  assert.ok(Number(field(vg, 'vg_size')) >= 8 * 1024 ** 3, `VG size ${field(vg, 'vg_size')}`);
  assert.equal(field(vg, 'vg_allocation_policy'), 'contiguous');
});

test('activation stand-in maps exactly the LV extents; wipe, in-use and TCG boot work', () => {
  requireSandbox();
  const standin = existsSync(`${STATE}/lvm/standin`);
  const names = ['a', 'b', 'c'].map((n) => `${TAG}-${n}`) as [string, string, string];
  const dom = `${TAG}-tcg`;
  try {
    for (const n of names) run(LVM, ['lvcreate', '-L', `${8 * MiB}b`, '-n', n, VG]);
    const place = (n: string) => ({ name: n, dev: `/dev/${VG}/${n}`, ...lvPlace(n) });
    const [a, b, c] = [place(names[0]), place(names[1]), place(names[2])];
    assert.equal(b.offset, a.offset + a.size, 'contiguous allocation: b follows a');
    assert.equal(c.offset, b.offset + b.size, 'contiguous allocation: c follows b');
    for (const lv of [a, b, c]) {
      assert.ok(existsSync(lv.dev), `${lv.dev} missing`);
      assert.equal(Number(run('blockdev', ['--getsize64', lv.dev]).trim()), lv.size);
      if (standin) {
        const loop = readlinkSync(lv.dev);
        const [off, lim, back] = run('losetup', ['-n', '-O', 'OFFSET,SIZELIMIT,BACK-FILE', loop]).trim().split(/\s+/);
        assert.deepEqual([Number(off), Number(lim), back], [lv.offset, lv.size, lv.pv]);
      }
    }

    // Fill the neighbours, write random bytes to b, find them on the PV.
    const fillA = Buffer.alloc(a.size, 0xa5);
    const fillC = Buffer.alloc(c.size, 0x5a);
    writeDirect(a.dev, 0, fillA);
    writeDirect(c.dev, 0, fillC);
    const pattern = randomBytes(b.size);
    writeDirect(b.dev, 0, pattern);
    assert.ok(readDirect(b.pv, b.offset, b.size).equals(pattern), 'pattern not at the computed PV offset');
    assert.ok(readDirect(a.pv, a.offset, a.size).equals(fillA), 'left neighbour changed');
    assert.ok(readDirect(c.pv, c.offset, c.size).equals(fillC), 'right neighbour changed');

    // The wipe: write-zeroes through the LV device reaches the PV.
    const z = tryRun('blkdiscard', ['--zeroout', b.dev]);
    assert.equal(z.status, 0, `blkdiscard --zeroout failed: ${z.stderr}`);
    assert.ok(readDirect(b.pv, b.offset, b.size).equals(Buffer.alloc(b.size)), 'zeroout did not zero the LV extents');
    assert.ok(readDirect(a.pv, a.offset, a.size).equals(fillA), 'zeroout touched the left neighbour');
    assert.ok(readDirect(c.pv, c.offset, c.size).equals(fillC), 'zeroout touched the right neighbour');

    // An open LV cannot be removed (as with real LVM).
    const fd = openSync(b.dev, 'r');
    try {
      const r = tryRun(LVM, ['lvremove', '-y', `${VG}/${b.name}`]);
      assert.notEqual(r.status, 0, 'lvremove of an open LV succeeded');
      assert.match(r.stderr, /in use/);
      assert.ok(existsSync(b.dev));
    } finally {
      closeSync(fd);
    }

    // A TCG domain with the LV as a block disk starts (qemu runs as libvirt-qemu).
    const xml = join(tmpdir(), `${dom}.xml`);
    writeFileSync(
      xml,
      `<domain type="qemu"><name>${dom}</name><memory unit="MiB">128</memory><vcpu>1</vcpu>` +
        `<os><type arch="x86_64" machine="q35">hvm</type><boot dev="hd"/></os><devices>` +
        `<disk type="block" device="disk"><driver name="qemu" type="raw" cache="none" io="native"/>` +
        `<source dev="${c.dev}"/><target dev="vda" bus="virtio"/></disk>` +
        `<console type="pty"><target type="virtio"/></console></devices></domain>`,
    );
    try {
      run('virsh', ['-c', URI, 'define', xml]);
      run('virsh', ['-c', URI, 'start', dom]);
      assert.equal(run('virsh', ['-c', URI, 'domstate', dom]).trim(), 'running');
    } finally {
      rmSync(xml, { force: true });
      tryRun('virsh', ['-c', URI, 'destroy', dom]);
      tryRun('virsh', ['-c', URI, 'undefine', '--nvram', dom]);
    }

    const loops = standin ? names.map((n) => readlinkSync(`/dev/${VG}/${n}`)) : [];
    for (const n of names) run(LVM, ['lvremove', '-y', `${VG}/${n}`]);
    for (const n of names) assert.ok(!existsSync(`/dev/${VG}/${n}`), `/dev/${VG}/${n} left behind`);
    const attached = run('losetup', ['-n', '-O', 'NAME', '-l']);
    for (const l of loops) assert.ok(!attached.split('\n').includes(l), `${l} still attached after lvremove`);
  } finally {
    tryRun('virsh', ['-c', URI, 'destroy', dom]);
    tryRun('virsh', ['-c', URI, 'undefine', '--nvram', dom]);
    for (const n of names) tryRun(LVM, ['lvremove', '-y', `${VG}/${n}`]);
  }
});

test('bridges br-vm1..5 exist, are up and have no host address', () => {
  requireSandbox();
  for (let i = 1; i <= 5; i++) {
    const [link] = JSON.parse(run('ip', ['-j', '-d', 'link', 'show', 'dev', `br-vm${i}`]));
    assert.equal(link.linkinfo?.info_kind, 'bridge');
    assert.ok(link.flags.includes('UP'), `br-vm${i} is not up`);
    const [addr] = JSON.parse(run('ip', ['-j', 'addr', 'show', 'dev', `br-vm${i}`]));
    const global = ((addr.addr_info ?? []) as { family: string; scope: string }[]).filter((a) => a.scope === 'global' || a.family === 'inet');
    assert.deepEqual(global, [], `br-vm${i} has host addresses`);
  }
});

test('DHCP gives 52:54:00:00:00:01 on br-vm1 198.51.100.11 (and 2001:db8::11 by DHCPv6)', () => {
  requireSandbox();
  const ns = `${TAG}-c`;
  const host = `${TAG}h`.slice(0, 15);
  const dir = mkdtempSync(join(tmpdir(), `${TAG}-dhcp-`));
  const pidFile = join(dir, 'dhclient.pid');
  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    run('ip', ['link', 'set', host, 'master', 'br-vm1', 'up']);
    const nsx = (args: string[]) => run('ip', ['netns', 'exec', ns, ...args]);
    nsx(['ip', 'link', 'set', 'eth0', 'address', '52:54:00:00:00:01']);
    nsx(['ip', 'link', 'set', 'lo', 'up']);
    nsx(['ip', 'link', 'set', 'eth0', 'up']);

    const script = join(dir, 'udhcpc.sh');
    writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "LEASE $ip $subnet router=$router"\nexit 0\n');
    chmodSync(script, 0o755);
    const out = nsx(['busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '5', '-T', '2', '-s', script]);
    const m = /^LEASE (\S+) (\S+) router=(.*)$/m.exec(out);
    assert.ok(m, `no lease: ${out}`);
    assert.equal(m[1], '198.51.100.11');
    assert.equal(m[2], '255.255.255.0');
    assert.equal(m[3], '', 'the sandbox DHCP server must not hand out a router');

    {
      // dhclient needs a usable link-local address first.
      for (let i = 0; i < 50 && /tentative/.test(nsx(['ip', '-6', 'addr', 'show', 'dev', 'eth0'])); i++) sleep(100);
      // DUID-LL (from the MAC), so reruns are the same DHCPv6 client and the
      // lease from the previous run is theirs. In the foreground (-d); the
      // hook script stops dhclient once bound.
      const script6 = join(dir, 'dh6.sh');
      const result6 = join(dir, 'lease6');
      writeFileSync(script6, `#!/bin/sh\n[ "$reason" = BOUND6 ] && { echo "$new_ip6_address" > ${result6}; kill $PPID; }\nexit 0\n`);
      chmodSync(script6, 0o755);
      const r = tryRun('timeout', ['30', 'ip', 'netns', 'exec', ns, 'dhclient', '-6', '-1', '-d', '-D', 'LL', '-sf', script6,
        '-lf', join(dir, 'dh6.leases'), '-pf', pidFile, 'eth0']);
      assert.ok(existsSync(result6), `DHCPv6 got no lease (exit ${r.status}): ${r.stderr}`);
      assert.equal(readFileSync(result6, 'utf8').trim(), '2001:db8::11');
    }
  } finally {
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (pid > 1) try { process.kill(pid); } catch { /* already gone */ }
    }
    tryRun('ip', ['link', 'del', host]);
    tryRun('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('BIND serves the zones on 127.0.0.1:5353 and takes only TSIG-signed updates', () => {
  requireSandbox();
  const dig = (args: string[]) => run('dig', ['@127.0.0.1', '-p', '5353', '+time=2', '+tries=1', ...args]);
  for (const zone of ['raptor.test', '100.51.198.in-addr.arpa', '8.b.d.0.1.0.0.2.ip6.arpa']) {
    assert.match(dig([zone, 'SOA', '+short']), /^ns\.raptor\.test\. hostmaster\.raptor\.test\. \d+ /, `no SOA for ${zone}`);
  }
  const key = `${STATE}/tsig.key`;
  assert.equal(Number(run('stat', ['-c', '%a', key]).trim()), 600);
  const name = `${TAG}.raptor.test`;
  const update = (rr: string) => `server 127.0.0.1 5353\nzone raptor.test\nupdate ${rr}\nsend\n`;
  try {
    const signed = tryRun('nsupdate', ['-k', key], { input: update(`add ${name} 300 A 198.51.100.11`) });
    assert.equal(signed.status, 0, `signed update failed: ${signed.stderr}`);
    assert.equal(dig([name, 'A', '+short']).trim(), '198.51.100.11');

    const unsigned = tryRun('nsupdate', [], { input: update(`add unsigned-${name} 300 A 198.51.100.12`) });
    assert.notEqual(unsigned.status, 0);
    assert.match(unsigned.stderr, /REFUSED/);
    assert.equal(dig([`unsigned-${name}`, 'A', '+short']).trim(), '');

    assert.match(dig(['example.com', 'A']), /status: REFUSED/, 'named must not recurse');
  } finally {
    tryRun('nsupdate', ['-k', key], { input: update(`delete ${name}`) });
  }
});
