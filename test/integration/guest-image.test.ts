// The demo guest image (scripts/guest-image): built from Debian packages, a GPT disk whose ESP
// holds shim → grub → the signed kernel + a busybox initramfs, and it boots under TCG with UEFI
// Secure Boot enforced (OVMF secboot code + Microsoft VARS). Plain qemu: no libvirt, no sandbox;
// the only network is qemu's restricted user net (restrict=on: nothing leaves qemu; addresses from
// the documentation range 198.51.100.0/24), enough to
// see the guest's DHCP client work. A QMP socket presses the ACPI power button at the end: the guest
// must power itself off (what virsh shutdown relies on).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createConnection } from 'node:net';

const ROOT = new URL('../../', import.meta.url).pathname;
const SCRIPT = join(ROOT, 'scripts/guest-image');
const IMAGE = process.env.RAPTOR_GUEST_IMAGE ?? '/var/cache/raptor/guest-demo.img';
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';
const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const MiB = 2 ** 20;
// A cold TCG boot to "ready" takes ~11 s here; leave room for a loaded 2-core machine.
const BOOT_TIMEOUT_MS = 180_000;

function run(argv: string[], timeoutMs = 60_000): { code: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * MiB, env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}
function runBuf(argv: string[]): Buffer {
  const r = spawnSync(argv[0]!, argv.slice(1), { timeout: 60_000, maxBuffer: 64 * MiB, env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}
const lastLine = (s: string): string => s.trimEnd().split('\n').at(-1) ?? '';
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
const readOr = (path: string): string => (existsSync(path) ? readFileSync(path, 'latin1') : '');

/** Runs QMP commands one after another on a qemu -qmp unix socket; resolves with their replies. */
function qmp(socket: string, commands: string[], timeoutMs = 10_000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    const replies: unknown[] = [];
    const queue = ['qmp_capabilities', ...commands];
    let buf = '';
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err); else resolve(replies);
    };
    const timer = setTimeout(() => done(new Error(`QMP: no reply within ${timeoutMs} ms`)), timeoutMs);
    conn.on('error', done);
    conn.on('close', () => done(new Error('QMP: connection closed early')));
    conn.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while (!settled && (nl = buf.indexOf('\n')) >= 0) {
        let msg: Record<string, unknown>;
        try { msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>; } catch { return done(new Error(`QMP: not JSON: ${buf.slice(0, nl)}`)); }
        buf = buf.slice(nl + 1);
        if ('error' in msg) return done(new Error(`QMP: ${JSON.stringify(msg.error)}`));
        if (!('QMP' in msg) && !('return' in msg)) continue; // an event (POWERDOWN, SHUTDOWN …)
        if ('return' in msg) replies.push(msg.return);
        const next = queue.shift();
        if (next === undefined) return done();
        conn.write(`${JSON.stringify({ execute: next })}\n`);
      }
    });
  });
}

describe('guest image', { skip: process.getuid?.() !== 0 ? 'needs root (apt, qemu)' : false }, () => {
  let image = '';
  let espOffset = 0;

  before(() => {
    const r = run([SCRIPT, '--out', IMAGE], 900_000);
    assert.equal(r.code, 0, r.stderr);
    image = lastLine(r.stdout);
  });

  test('scripts/guest-image prints the image path last, and a second run is a cache hit', () => {
    assert.equal(image, IMAGE);
    const size = statSync(image).size;
    assert.ok(size >= 10 * MiB && size <= 48 * MiB, `image is ${size} bytes`);
    assert.equal(size % MiB, 0);
    const mtime = statSync(image).mtimeMs;
    const again = run([SCRIPT, '--out', IMAGE]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(lastLine(again.stdout), IMAGE);
    assert.match(again.stderr, /cached/);
    assert.ok(again.ms < 5_000, `cached run took ${again.ms} ms`);
    assert.equal(statSync(image).mtimeMs, mtime, 'the cached run left the image alone');
  });

  test('the build lock is root-only: an ordinary user cannot open it to stall builds', () => {
    const locks = join(IMAGE, '..', '.locks');
    assert.equal(statSync(locks).mode & 0o7777, 0o700);
    const lock = join(locks, `${basename(IMAGE)}.lock`);
    assert.ok(existsSync(lock), `${lock} missing`);
    const r = run(['runuser', '-u', 'nobody', '--', 'flock', '--nonblock', lock, 'true']);
    assert.notEqual(r.code, 0, 'nobody could take the image build lock');
    assert.match(r.stderr, /Permission denied/);
  });

  test('GPT with one EFI System Partition holding shim, grub, grub.cfg, kernel and initramfs', () => {
    const table = run(['sgdisk', '-p', image]);
    assert.equal(table.code, 0, table.stderr);
    const parts = table.stdout.split('\n').filter((l) => /^\s+\d+\s+\d+\s+\d+/.test(l));
    assert.equal(parts.length, 1, table.stdout);
    assert.match(parts[0]!, /EF00/);
    const info = run(['sgdisk', '-i', '1', image]).stdout;
    assert.match(info, new RegExp(`Partition GUID code: ${ESP_TYPE}`));
    const first = Number(/First sector: (\d+)/.exec(info)?.[1]);
    assert.equal(first, 2048, info);
    espOffset = first * 512;
    assert.equal(run(['sgdisk', '-v', image]).code, 0);

    const at = `${image}@@${espOffset}`;
    const list = (dir: string) => run(['mdir', '-b', '-i', at, dir]).stdout.split('\n').filter(Boolean).map((p) => p.replace(/^::/, ''));
    assert.deepEqual(list('::/EFI/BOOT').sort(), ['/EFI/BOOT/BOOTX64.EFI', '/EFI/BOOT/grub.cfg', '/EFI/BOOT/grubx64.efi']);
    assert.ok(list('::/').includes('/vmlinuz'));
    assert.ok(list('::/').includes('/initrd.img'));

    const shim = runBuf(['mtype', '-i', at, '::/EFI/BOOT/BOOTX64.EFI']);
    assert.equal(shim.subarray(0, 2).toString('latin1'), 'MZ');
    assert.ok(shim.includes('Microsoft Corporation UEFI CA 2011'), 'shim is signed by the Microsoft UEFI CA');
    const grub = runBuf(['mtype', '-i', at, '::/EFI/BOOT/grubx64.efi']);
    assert.ok(grub.includes('Debian Secure Boot CA'), 'grub is Debian-signed');
    assert.ok(grub.includes('/EFI/debian'), 'grub prefix is /EFI/debian');
    const kernel = runBuf(['mtype', '-i', at, '::/vmlinuz']);
    assert.equal(kernel.subarray(0, 2).toString('latin1'), 'MZ');
    assert.ok(kernel.includes('Debian Secure Boot CA'), 'kernel is Debian-signed');

    // Signed grub reads $prefix/grub.cfg = /EFI/debian/grub.cfg.
    const cfg = runBuf(['mtype', '-i', at, '::/EFI/debian/grub.cfg']).toString();
    assert.match(cfg, /^set timeout=0$/m);
    assert.match(cfg, /^linux \/vmlinuz .*console=ttyS0,115200.* console=hvc0\b/m);
    const consoles = [...cfg.matchAll(/console=(\S+)/g)].map((m) => m[1]);
    assert.equal(consoles.at(-1), 'hvc0', 'the last console= (/dev/console) is the VirtIO console');
    assert.match(cfg, /^initrd \/initrd\.img$/m);
    assert.match(cfg, /^boot$/m);
    const initrd = runBuf(['mtype', '-i', at, '::/initrd.img']);
    assert.deepEqual([...initrd.subarray(0, 2)], [0x1f, 0x8b], 'initramfs is gzip');
  });

  describe('boots under TCG with Secure Boot enforced', () => {
    let dir = '';
    let hvc = '';
    let serial = '';
    let qmpSocket = '';
    let qemu: ChildProcess | undefined;
    let qemuErr = '';
    let ready = false;
    let bootMs = 0;

    const stopQemu = async () => {
      const p = qemu;
      if (!p?.pid || p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise((res) => p.once('exit', res));
      process.kill(p.pid, 'SIGTERM');
      const t = setTimeout(() => { if (p.exitCode === null && p.signalCode === null) process.kill(p.pid!, 'SIGKILL'); }, 5_000);
      await gone;
      clearTimeout(t);
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'raptor-guest-image-'));
      hvc = join(dir, 'hvc.log');
      serial = join(dir, 'serial.log');
      qmpSocket = join(dir, 'qmp.sock');
      const vars = join(dir, 'VARS.fd');
      copyFileSync(OVMF_VARS, vars);
      const t0 = Date.now();
      qemu = spawn('qemu-system-x86_64', [
        '-machine', 'q35,smm=on', '-accel', 'tcg', '-m', '512', '-smp', '1',
        '-global', 'driver=cfi.pflash01,property=secure,value=on',
        '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
        '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
        '-drive', `file=${image},format=raw,if=virtio,snapshot=on`,
        '-display', 'none', '-monitor', 'none', '-nodefaults',
        '-qmp', `unix:${qmpSocket},server=on,wait=off`,
        '-serial', `file:${serial}`,
        '-device', 'virtio-serial', '-chardev', `file,id=c0,path=${hvc}`, '-device', 'virtconsole,chardev=c0',
        '-netdev', 'user,id=n0,restrict=on,net=198.51.100.0/24,host=198.51.100.2,dhcpstart=198.51.100.99,ipv6=off', '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:00:00:99',
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      qemu.stderr!.on('data', (d: Buffer) => { qemuErr += d.toString(); });
      while (Date.now() - t0 < BOOT_TIMEOUT_MS && qemu.exitCode === null && qemu.signalCode === null) {
        if (/raptor-guest: ready/.test(readOr(hvc))) { ready = true; break; }
        await sleep(250);
      }
      bootMs = Date.now() - t0;
    });
    after(async () => {
      await stopQemu();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('the guest reports ready on the VirtIO console in bounded time', () => {
      const tail = readOr(hvc).split('\n').slice(-15).join('\n') || readOr(serial).split('\n').slice(-15).join('\n');
      assert.ok(ready, `no "raptor-guest: ready" within ${BOOT_TIMEOUT_MS / 1000} s (qemu: ${qemuErr.trim() || 'running'}); last console lines:\n${tail}`);
      console.log(`# guest ready ${(bootMs / 1000).toFixed(1)} s after qemu start`);
    });

    test('firmware, grub and kernel: Secure Boot is on all the way (serial console)', () => {
      const s = readOr(serial);
      assert.match(s, /raptor-guest: grub loading /, 'grub ran our grub.cfg');
      assert.match(s, /EFI stub: UEFI Secure Boot is enabled/);
      assert.match(s, /secureboot: Secure boot enabled/, "the kernel's own secureboot: line");
      assert.match(s, /Kernel is locked down from EFI Secure Boot/);
    });

    test('init reports Secure Boot, lockdown and its DHCP address on the VirtIO console', () => {
      const c = readOr(hvc);
      assert.match(c, /^raptor-guest: secureboot=enabled\r?$/m);
      assert.match(c, /^raptor-guest: kernel secureboot: Secure boot enabled\r?$/m);
      assert.match(c, /^raptor-guest: lockdown=integrity\r?$/m);
      // qemu's user net (restrict=on, a documentation range) serves dhcpstart to the first client.
      assert.match(c, /^raptor-guest: dhcp ipv4=198\.51\.100\.99 prefix=24 mac=52:54:00:00:00:99\r?$/m);
      assert.doesNotMatch(c + readOr(serial), /insmod .* failed/);
    });

    test('the ACPI power button (QMP system_powerdown) powers the guest off: qemu exits by itself', async () => {
      const p = qemu!;
      assert.ok(ready && p.exitCode === null && p.signalCode === null, 'the guest is up and ready');
      const exited = new Promise<void>((res) => p.once('exit', () => res()));
      const t0 = Date.now();
      await qmp(qmpSocket, ['system_powerdown']);
      // Well under a second idle under TCG: the guest's acpid runs a handler that calls poweroff -f.
      const limitMs = 30_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((res) => { timer = setTimeout(() => res(true), limitMs); })]);
      clearTimeout(timer);
      const ms = Date.now() - t0;
      const tail = readOr(hvc).split('\n').slice(-8).join('\n');
      assert.ok(!timedOut, `qemu still running ${limitMs / 1000} s after system_powerdown; last console lines:\n${tail}`);
      assert.equal(p.exitCode, 0, `qemu exit: code ${p.exitCode} signal ${p.signalCode}; ${qemuErr.trim()}`);
      assert.match(readOr(hvc), /^raptor-guest: poweroff \(acpi power button\)\r?$/m);
      console.log(`# guest powered off ${ms} ms after system_powerdown`);
    });

    test('qemu is stopped by pid', async () => {
      await stopQemu();
      assert.ok(qemu!.exitCode !== null || qemu!.signalCode !== null);
    });
  });
});
