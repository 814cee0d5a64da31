// Hostile input against the real sandbox (issue 9, items 1, 6, 7, 8, 10): images that would read
// another tenant's volume, key/config/TSIG paths that are devices, FIFOs or huge, files whose
// contents must never be echoed, config numbers out of range, ids that cannot be host names,
// control characters in echoed input, a zone the server does not serve. Every refusal: the exit
// code, one line (or one JSON document), and nothing changed on the host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { cleanup, dnsAnswers, hostSnapshot, loadTestConfig, raptor, readBytes, testConfigPath, type RunOut } from './lib/raptor.ts';

const cfgPath = testConfigPath();
// tables of features this test does not use (image catalogue, flavors, quotas) are left out
{
  let skip = false;
  const kept = readFileSync(cfgPath, 'utf8').split('\n').filter((line) => {
    const header = /^\[\[?([a-z_.]+)\]\]?\s*$/.exec(line);
    if (header) skip = /^(images|flavors|quotas)\b/.test(header[1]!);
    return !skip;
  });
  writeFileSync(cfgPath, kept.join('\n'));
}
const config = loadTestConfig(cfgPath);
const dir = `/run/raptor-sandbox/hinp-${process.pid}`;
const VICTIM = 'hinp-victim';
const NEW = 'hinp-new';
const RAW_VM = 'hinp-raw';
const QCOW_VM = 'hinp-qcow';
const OTHERS_VM = 'hinp-others';
const ALL = [VICTIM, NEW, RAW_VM, QCOW_VM, OTHERS_VM];
const victimDev = `/dev/${config.storage.vg}/guest-${VICTIM}`;
const MIB = 1024 * 1024;
/** The victim's data: what must never reach another VM's disk or any output. */
const MARKER = 'HINP-TENANT-SECRET-7f3a9c';
const markerBytes = Buffer.alloc(MIB, Buffer.from(`${MARKER}\n`));

const r = (args: string[], config = cfgPath) => raptor(args, { config });
const qemuImg = (args: string[]) => execFileSync('qemu-img', args, { stdio: ['ignore', 'pipe', 'pipe'] });
const createArgs = (vm: string, extra: string[]) => ['vm', 'create', vm, '--cpus', '1', '--memory', '128M', '--disk', '32M', '--no-network', ...extra];

/** A config like the test's with some `key = value` lines replaced (each key is unique in the file). */
function variant(name: string, lines: Record<string, string>): string {
  let text = readFileSync(cfgPath, 'utf8');
  for (const [key, line] of Object.entries(lines)) {
    const re = new RegExp(`^${key}\\s*=.*$`, 'm');
    assert.match(text, re, key);
    text = text.replace(re, line);
  }
  const path = join(dir, `${name}.toml`);
  writeFileSync(path, text);
  return path;
}

/** A refusal: the exit code, one line on stderr (or one JSON error), neither the marker nor any other secret anywhere. */
function refused(out: RunOut, code: number, re: RegExp, opts: { json?: boolean; secrets?: string[] } = {}): void {
  assert.equal(out.code, code, `exit ${out.code}: ${out.stderr}${out.stdout}`);
  for (const secret of [MARKER, ...(opts.secrets ?? [])]) {
    const s = secret.toLowerCase();
    assert.ok(!out.stdout.toLowerCase().includes(s) && !out.stderr.toLowerCase().includes(s), `not echoed: ${JSON.stringify(secret)}`);
  }
  if (opts.json) {
    const err = (out.json as { error?: { code: string; exitCode: number; message: string } } | undefined)?.error;
    assert.ok(err, `one JSON document on stdout: ${out.stdout}`);
    assert.equal(err.exitCode, code);
    assert.match(err.message, re);
    assert.equal(out.stderr, '');
  } else {
    assert.equal(out.stdout, '');
    assert.equal(out.stderr.split('\n').length, 2, `one line: ${JSON.stringify(out.stderr)}`);
    assert.match(out.stderr, re);
  }
}

let sock: Server | undefined;

describe('hardening: hostile input', { timeout: 600_000 }, () => {
  before(async () => {
    cleanup(config, ALL);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'marker.raw'), markerBytes);
    truncateSync(join(dir, 'marker.raw'), 8 * MIB);
    // the victim: a tenant VM whose disk holds the marker
    const v = await r(createArgs(VICTIM, ['--image', join(dir, 'marker.raw')]));
    assert.equal(v.code, 0, v.stderr);
    assert.ok(readBytes(victimDev, 0, MIB).equals(markerBytes), 'the victim disk holds the marker');
    sock = createServer().listen(join(dir, 'sock'));
    await new Promise((res) => sock!.once('listening', res));
  });

  after(() => {
    sock?.close();
    cleanup(config, ALL);
    rmSync(dir, { recursive: true, force: true });
    rmSync(cfgPath, { force: true });
  });

  test('item 1: images that would read anything but their own file are refused (exit 2), nothing changes', async () => {
    const img = (name: string) => join(dir, name);
    // a qcow2 backed by the victim's volume: the reported leak
    qemuImg(['create', '-q', '-f', 'qcow2', '-u', '-b', victimDev, '-F', 'raw', img('backed.qcow2'), '32M']);
    // the same through a json: backing name, and through a symlink named like a plain file
    qemuImg(['create', '-q', '-f', 'qcow2', '-u', '-b', `json:{"driver":"raw","file":{"driver":"host_device","filename":"${victimDev}"}}`, '-F', 'raw', img('json-backed.qcow2'), '32M']);
    symlinkSync(victimDev, img('victim-link.raw'));
    qemuImg(['create', '-q', '-f', 'qcow2', '-u', '-b', img('victim-link.raw'), '-F', 'raw', img('link-backed.qcow2'), '32M']);
    // an external data file: made over a scratch file, whose name then points at the victim
    writeFileSync(img('data.raw'), '');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', `data_file=${img('data.raw')},data_file_raw=on`, img('datafile.qcow2'), '8M']);
    rmSync(img('data.raw'));
    symlinkSync(victimDev, img('data.raw'));
    // a vmdk whose extent is the victim
    writeFileSync(img('flat.vmdk'), `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 16384 FLAT "${victimDev}" 0\n`);
    execFileSync('mkfifo', [img('fifo')]);
    symlinkSync(img('fifo'), img('fifo-link.raw'));
    mkdirSync(img('dir.raw'));
    const cases: [string, RegExp][] = [
      [img('backed.qcow2'), /not a self-contained qcow2 image: it has a backing file/],
      [img('json-backed.qcow2'), /it has a backing file/],
      [img('link-backed.qcow2'), /it has a backing file/],
      [img('datafile.qcow2'), /external data file/],
      [img('flat.vmdk'), /is a vmdk image: raw or qcow2 allowed/],
      [`json:{"driver":"raw","file":{"driver":"host_device","filename":"${victimDev}"}}`, /cannot read the file \(ENOENT\)/],
      ['nbd://127.0.0.1:10809/x', /cannot read the file \(ENOENT\)/],
      [victimDev, /a block device, not a regular file/],
      [img('victim-link.raw'), /a block device, not a regular file/],
      [img('fifo'), /a FIFO, not a regular file/],
      [img('fifo-link.raw'), /a FIFO, not a regular file/],
      [img('dir.raw'), /a directory, not a regular file/],
      [img('sock'), /a socket, not a regular file/],
      ['/dev/zero', /a character device, not a regular file/],
      ['/proc/self/environ', /a kernel pseudo-file/],
      ['/sys/kernel/mm/transparent_hugepage/enabled', /a kernel pseudo-file/],
    ];
    const before = hostSnapshot(config);
    for (const [path, re] of cases) {
      const t0 = Date.now();
      refused(await r(createArgs(NEW, ['--image', path])), 2, re);
      refused(await r(['--json', ...createArgs(NEW, ['--image', path])]), 2, re, { json: true });
      refused(await r([...createArgs(NEW, ['--image', path]), '--dry-run']), 2, re);
      assert.ok(Date.now() - t0 < 20_000, `${path}: refused without hanging`);
      assert.equal(hostSnapshot(config), before, path);
    }
    assert.ok(readBytes(victimDev, 0, MIB).equals(markerBytes), 'the victim disk is untouched');
  });

  test('item 1: a raw image, a standalone qcow2 and a qcow2 others can write land byte for byte', async () => {
    const raw = join(dir, 'good.raw');
    const data = Buffer.concat([Buffer.from('raptor-image-start'), randomBytes(4 * MIB)]);
    writeFileSync(raw, data);
    truncateSync(raw, 8 * MIB);
    const want = readFileSync(raw);
    const qcow = join(dir, 'good.qcow2');
    qemuImg(['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow]);
    const others = join(dir, 'others.qcow2');
    qemuImg(['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, others]);
    chownSync(others, 65534, 65534);
    chmodSync(others, 0o666);
    const dry = await r([...createArgs(RAW_VM, ['--image', qcow]), '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /qemu-img convert -p -n -O raw -t none 'json:\{"driver":"qcow2","backing":null,"file":\{"driver":"file","filename":"[^"]*good\.qcow2"\}\}'/);
    for (const [vm, image] of [[RAW_VM, raw], [QCOW_VM, qcow], [OTHERS_VM, others]] as const) {
      const out = await r(createArgs(vm, ['--image', image]));
      assert.equal(out.code, 0, out.stderr);
      assert.ok(readBytes(`/dev/${config.storage.vg}/guest-${vm}`, 0, want.length).equals(want), `${vm}: the disk holds exactly the image bytes`);
      const d = await r(['vm', 'destroy', vm, '--yes']);
      assert.equal(d.code, 0, d.stderr);
    }
  });

  test('item 6: key files that are devices, FIFOs, directories or huge are refused at once (exit 2)', async () => {
    writeFileSync(join(dir, 'big.pub'), '');
    truncateSync(join(dir, 'big.pub'), 50 * MIB);
    execFileSync('mkfifo', [join(dir, 'key-fifo')]);
    symlinkSync('/dev/zero', join(dir, 'zero.pub'));
    const cases: [string, RegExp][] = [
      ['/dev/zero', /--ssh-key "\/dev\/zero": a character device, not a regular file/],
      [join(dir, 'zero.pub'), /a character device, not a regular file/],
      [join(dir, 'key-fifo'), /a FIFO, not a regular file/],
      [join(dir, 'big.pub'), /larger than the 64 KiB such a file may have/],
      [dir, /a directory, not a regular file/],
      [join(dir, 'sock'), /a socket, not a regular file/],
    ];
    const before = hostSnapshot(config);
    const passwd = readFileSync('/etc/passwd', 'utf8');
    for (const [path, re] of cases) {
      const t0 = Date.now();
      refused(await r(createArgs(NEW, ['--ssh-key', path])), 2, re);
      refused(await r(['--json', ...createArgs(NEW, ['--ssh-key', path])]), 2, re, { json: true });
      refused(await r(['user', 'add', 'hinpz', '--ssh-key', path]), 2, re);
      refused(await r(['--json', 'user', 'add', 'hinpz', '--ssh-key', path]), 2, re, { json: true });
      assert.ok(Date.now() - t0 < 20_000, `${path}: refused without hanging`);
    }
    assert.equal(hostSnapshot(config), before);
    assert.equal(readFileSync('/etc/passwd', 'utf8'), passwd);
  });

  test('item 6: an authorized_keys the user turned into a FIFO or a link to /dev/zero is a conflict (exit 3), no hang', async () => {
    const user = 'hinpu';
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZ/H9cmNpoCbawjwCGpCKyA3ZGaCJaoYqimsfv2EnwG hinp@test';
    const other = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBM/2tMRpss8X26+LoP1P9AJg3ZDUCYOUn91GVYD95T7t1uBNjJ0XmPGtmcazzZcrSdDgV/hf49BToCYwN0P5+sM= hinp@desk';
    try {
      const add = await r(['user', 'add', user, '--ssh-key', key]);
      assert.equal(add.code, 0, add.stderr);
      const home = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`))!.split(':')[5]!;
      const ak = join(home, '.ssh', 'authorized_keys');
      for (const make of [() => execFileSync('mkfifo', [ak]), () => symlinkSync('/dev/zero', ak)]) {
        rmSync(ak, { force: true });
        make();
        const t0 = Date.now();
        refused(await r(['user', 'add', user, '--ssh-key', other]), 3, /authorized_keys ".*": a (FIFO|character device), not a regular file; fix it by hand/);
        assert.ok(Date.now() - t0 < 20_000, 'no hang');
      }
    } finally {
      try {
        execFileSync('userdel', ['-r', user], { stdio: 'ignore' });
      } catch {
        /* not made */
      }
    }
  });

  test('item 6: --config and the TSIG key file get the same treatment', async () => {
    execFileSync('mkfifo', [join(dir, 'cfg-fifo')]);
    const before = hostSnapshot(config);
    refused(await r(['vm', 'list'], '/dev/zero'), 2, /config "\/dev\/zero": a character device, not a regular file/);
    refused(await r(['--json', 'vm', 'list'], join(dir, 'cfg-fifo')), 2, /a FIFO, not a regular file/, { json: true });
    writeFileSync(join(dir, 'huge.toml'), '');
    truncateSync(join(dir, 'huge.toml'), 50 * MIB);
    refused(await r(['vm', 'list'], join(dir, 'huge.toml')), 2, /larger than the 1 MiB/);
    const fifoKey = variant('fifo-key', { tsig_key_file: `tsig_key_file = "${join(dir, 'cfg-fifo')}"` });
    const t0 = Date.now();
    refused(await r(['vm', 'create', NEW, '--cpus', '1', '--memory', '128M', '--disk', '32M', '--bridge', 'br-vm5'], fifoKey), 2, /TSIG key file .*: a FIFO, not a regular file/);
    assert.ok(Date.now() - t0 < 20_000);
    assert.equal(hostSnapshot(config), before);
  });

  test('item 7: errors say which line and why, never what a file holds (symlink to a secret file, /etc/shadow)', async () => {
    const secretFile = join(dir, 'shadow-like');
    writeFileSync(secretFile, `root:$y$j9T$${MARKER}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n`, { mode: 0o600 });
    symlinkSync(secretFile, join(dir, 'innocent.pub'));
    symlinkSync('/etc/shadow', join(dir, 'shadow.pub'));
    const lines = [
      `${MARKER}\n`,
      `ssh-ed25519 ${MARKER}\n`,
      `# a comment\n${MARKER.toLowerCase()} AAAAC3NzaC1lZDI1NTE5\n`,
      `ssh-ed25519 ${Buffer.from(`\0\0\0\x0b${MARKER}`).toString('base64')}\n`,
    ];
    const before = hostSnapshot(config);
    refused(await r(createArgs(NEW, ['--ssh-key', join(dir, 'innocent.pub')])), 2, /--ssh-key ".*innocent\.pub" line 1: not an SSH public key/);
    refused(await r(['--json', 'user', 'add', 'hinpz', '--ssh-key', join(dir, 'innocent.pub')]), 2, /line 1: not an SSH public key/, { json: true });
    const shadowFirst = readFileSync('/etc/shadow', 'utf8').split('\n')[0]!;
    const shadow = await r(createArgs(NEW, ['--ssh-key', join(dir, 'shadow.pub')]));
    refused(shadow, 2, /shadow\.pub" line 1: not an SSH public key/, { secrets: [shadowFirst.split(':').slice(0, 2).join(':')] });
    for (const [i, text] of lines.entries()) {
      const f = join(dir, `bad-${i}.pub`);
      writeFileSync(f, text);
      refused(await r(createArgs(NEW, ['--ssh-key', f])), 2, /line \d+: /);
      refused(await r(['--json', ...createArgs(NEW, ['--ssh-key', f])]), 2, /line \d+: /, { json: true });
    }
    assert.equal(hostSnapshot(config), before);
  });

  test('item 8: config numbers out of range are exit 2 naming the key', async () => {
    const before = hostSnapshot(config);
    const cases: [Record<string, string>, RegExp][] = [
      [{ ttl: 'ttl = 99999999999' }, /dns\.ttl: must be at most 2147483647/],
      [{ ttl: 'ttl = 2147483648' }, /dns\.ttl: must be at most 2147483647/],
      [{ ttl: 'ttl = -5' }, /dns\.ttl: must be at least 0/],
      [{ port: 'port = 70000' }, /dns\.port: must be at most 65535/],
      [{ shutdown_timeout_s: 'shutdown_timeout_s = 99999999999' }, /shutdown_timeout_s: must be at most 3600/],
      [{ wipe_step: 'wipe_step = "a lot"' }, /storage\.wipe_step: a size like 256M/],
      [{ reserved: 'reserved = "0-99999999999"' }, /cpus\.reserved: CPU numbers from 0 to 65535/],
      [{ zone: 'zone = "bad_zone.test"' }, /dns\.zone: a domain name/],
    ];
    for (const [i, [lines, re]] of cases.entries()) {
      const cfg = variant(`num-${i}`, lines);
      refused(await r(createArgs(NEW, []), cfg), 2, re);
      refused(await r(['--json', 'config', 'show'], cfg), 2, re, { json: true });
    }
    // the largest legal TTL is published as it is
    const ok = variant('ttl-max', { ttl: 'ttl = 2147483647' });
    const show = await r(['--json', 'config', 'show'], ok);
    assert.equal(show.code, 0, show.stderr);
    assert.equal((show.json as { dns: { ttl: number } }).dns.ttl, 2147483647);
    assert.equal(hostSnapshot(config), before);
  });

  test('item 10: echoed input is escaped and cut: one line, no control characters', async () => {
    const before = hostSnapshot(config);
    const nl = await r(['vm', 'show', 'alice-web\nraptor: forged line']);
    refused(nl, 2, /invalid VM name "web\\nraptor: forged line" in "alice-web\\nraptor: forged line"/);
    const ansi = await r(['vm', 'create', 'alice-\u001b[2J\u001b[31mred', '--cpus', '1', '--memory', '128M', '--disk', '32M']);
    refused(ansi, 2, /\\e\[2J\\e\[31mred/, { secrets: ['\u001b'] });
    const long = await r(['vm', 'destroy', `alice-${'x'.repeat(100_000)}`, '--yes']);
    refused(long, 2, /\.\.\. \(100006 characters\)/);
    assert.ok(long.stderr.length < 400, `cut: ${long.stderr.length} characters`);
    refused(await r(['vm', 'create', NEW, '--cpus', '1', '--memory', '128M', '--disk', '32M', '--bridge', 'br-vm1\n\u0007x']), 2, /unknown bridge "br-vm1\\n\\x07x"/, { secrets: ['\u0007'] });
    refused(await r(['vm', 'create', NEW, '--cpus', '1\n2', '--memory', '128M', '--disk', '32M']), 2, /invalid CPU count "1\\n2"/);
    refused(await r(['vm', 'create', NEW, '--cpus', '1', '--memory', '1\u001b]0;pwned\u0007G', '--disk', '32M']), 2, /invalid memory size "1\\e\]0;pwned\\x07G"/, { secrets: ['\u001b'] });
    refused(await r(['vm', 'list', '--bogus\noption']), 2, /unknown option '--bogus\\noption'/);
    const json = await r(['--json', 'vm', 'show', 'alice-web\n\u001b[0m']);
    refused(json, 2, /alice-web\\n\\e\[0m/, { json: true });
    assert.ok(!json.stdout.includes('\u001b'), 'JSON escapes control characters itself');
    assert.equal(hostSnapshot(config), before);
  });

  test('item 10: a VM id that is no valid host name is exit 2 before any change, with or without DNS', async () => {
    const before = hostSnapshot(config);
    refused(await r(createArgs('a_b-web', [])), 2, /invalid VM id "a_b-web": a VM's id is its host name \(RFC 1123/);
    const noDns = variant('no-dns', { enabled: 'enabled = false' });
    refused(await r(createArgs('a_b-web', []), noDns), 2, /RFC 1123/);
    refused(await r(['--json', ...createArgs('_svc-web', []), '--dry-run']), 2, /RFC 1123/, { json: true });
    // a valid zone that leaves no room for the id: the FQDN would pass 253 characters
    const longZone = `${'z'.repeat(63)}.${'z'.repeat(63)}.${'z'.repeat(63)}.${'z'.repeat(57)}`;
    const cfg = variant('long-zone', { zone: `zone = "${longZone}"` });
    refused(await r(createArgs(NEW, []), cfg), 2, /its DNS name .* is no valid host name: 258 characters, at most 253 allowed/);
    assert.equal(hostSnapshot(config), before);
  });

  test('item 10: a zone the DNS server does not serve is a conflict (exit 3), nothing changed', async () => {
    const cfg = variant('nosuch-zone', { zone: 'zone = "nosuch.test"' });
    const before = hostSnapshot(config);
    const dnsBefore = dnsAnswers(config, `${NEW}.raptor.test`, 'A');
    const out = await r(['vm', 'create', NEW, '--cpus', '1', '--memory', '128M', '--disk', '32M', '--bridge', 'br-vm5'], cfg);
    refused(out, 3, /DNS zone nosuch\.test is not served by 127\.0\.0\.1:\d+ \(no SOA for it there\); nothing changed/);
    const json = await r(['--json', 'dns', 'sync', '--dry-run'], cfg);
    refused(json, 3, /DNS zone nosuch\.test is not served/, { json: true });
    assert.equal(hostSnapshot(config), before);
    assert.deepEqual(dnsAnswers(config, `${NEW}.raptor.test`, 'A'), dnsBefore);
  });
});
