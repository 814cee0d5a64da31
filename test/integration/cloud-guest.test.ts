// Real guests with cloud-init: a VM from the catalogue image debian-12 comes up with its owner's
// key, its name and a login on the VirtIO console, under Secure Boot; destroy removes its seed.
// The busybox guest (no cloud-init) still boots with the seed attached. Refusals change nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseDomainXml } from '../../src/libvirt/domain-xml.ts';
import { removeAccount } from './lib/users.ts';
import { cleanup, dnsAnswers, dumpxml, hostSnapshot, loadTestConfig, raptor, seedFiles, testConfigPath, virshNames } from './lib/raptor.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const cfgPath = testConfigPath('shutdown_timeout_s = 30');
// the catalogue entries scripts/sandbox writes, added when the running sandbox predates them
const CATALOGUE: Record<string, string> = {
  'debian-12': '[[images]]\nname = "debian-12"\npath = "/var/cache/raptor/guest-images/debian-12.raw"\nformat = "raw"\n',
  'busybox-demo': '[[images]]\nname = "busybox-demo"\npath = "/var/cache/raptor/guest-demo.img"\nformat = "raw"\n',
  tiny: '[[flavors]]\nname = "tiny"\ncpus = 1\nmemory = "512M"\ndisk = "1G"\n',
  small: '[[flavors]]\nname = "small"\ncpus = 1\nmemory = "1G"\ndisk = "2G"\n',
};
{
  const have = loadTestConfig(cfgPath);
  const names = new Set([...have.images, ...have.flavors].map((x) => x.name));
  const missing = Object.entries(CATALOGUE).filter(([n]) => !names.has(n));
  if (missing.length) writeFileSync(cfgPath, `${readFileSync(cfgPath, 'utf8')}\n${missing.map(([, t]) => t).join('\n')}`);
}
const config = loadTestConfig(cfgPath);
const DEB = 'cg-deb';
const BB = 'cg-bb';
const USER = 'cg';
const r = (args: string[]) => raptor(args, { config: cfgPath });
const dir = mkdtempSync(join(tmpdir(), 'raptor-cloud-guest-'));
const key = join(dir, 'id_ed25519');
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

function ssh(addr: string, command: string, timeoutS = 10) {
  return spawnSync('ip', ['netns', 'exec', 'raptor-dhcp', 'ssh', '-i', key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', `ConnectTimeout=${timeoutS}`, '-o', 'LogLevel=ERROR', `${USER}@${addr}`, command], {
    encoding: 'utf8',
    timeout: 120_000,
  });
}

/** Poll the whole console log (the login prompt has no newline, so a line reader never sees it). */
async function waitForConsoleText(vm: string, re: RegExp, timeoutMs: number): Promise<string> {
  const path = join(config.console_log_dir, `${vm}-console.log`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(path) ? readFileSync(path, 'latin1') : '';
    if (re.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`no ${re} on the console of ${vm} within ${timeoutMs} ms; last:\n${text.slice(-800)}`);
    await sleep(250);
  }
}

describe('cloud-init guests', () => {
  let debImage = '';
  before(() => {
    cleanup(config, [DEB, BB]);
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${USER}@test`, '-f', key]);
    // the catalogue names these files; build them (cached: a no-op when the recipe is unchanged)
    const deb = spawnSync(join(ROOT, 'scripts/guest-image'), ['debian'], { encoding: 'utf8', timeout: 900_000 });
    assert.equal(deb.status, 0, deb.stderr.slice(-2000));
    debImage = deb.stdout.trim().split('\n').pop()!;
    const bb = spawnSync(join(ROOT, 'scripts/guest-image'), [], { encoding: 'utf8', timeout: 600_000 });
    assert.equal(bb.status, 0, bb.stderr.slice(-2000));
  });
  after(() => {
    cleanup(config, [DEB, BB]);
    // vm create --ssh-key also made the owner's host account
    removeAccount(USER);
    rmSync(dir, { recursive: true, force: true });
  });

  test('image list shows the catalogue with sizes from qemu-img', async () => {
    const out = await r(['image', 'list', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const list = out.json as { name: string; path: string; format: string; present: boolean; virtualSize: number; fileSize: number }[];
    const deb = list.find((i) => i.name === 'debian-12');
    assert.ok(deb?.present, 'debian-12 is listed and present');
    assert.equal(deb.path, debImage);
    assert.equal(deb.virtualSize, statSync(debImage).size);
    assert.ok(deb.fileSize > 0 && deb.fileSize < deb.virtualSize, 'the raw image is sparse');
    const text = await r(['image', 'list']);
    assert.match(text.stdout, /^NAME\s+FORMAT\s+VIRTUAL\s+FILE\s+DESCRIPTION\n/);
    assert.match(text.stdout, /debian-12\s+raw\s+\d+ MiB/);
  });

  test('bad user-data, unknown image or flavour, too small a disk: exit 2, nothing changed', async () => {
    const before = hostSnapshot(config);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, '#cloud-config\nusers: [\n');
    const script = join(dir, 'script.sh');
    writeFileSync(script, '#!/bin/sh\necho hi\n');
    const base = ['vm', 'create', DEB, '--flavor', 'small', '--no-network', '--ssh-key', `${key}.pub`];
    for (const [args, re] of [
      [[...base, '--image', 'debian-12', '--user-data', bad], /not valid YAML/],
      [[...base, '--image', 'debian-12', '--user-data', script], /only #cloud-config/],
      [[...base, '--image', 'debian-12', '--user-data', join(dir, 'nope.yaml')], /cannot read the file/],
      [[...base, '--image', 'no-such-image'], /image no-such-image not found/],
      [[...base, '--flavor', 'huge'], /flavour huge not found/],
      [[...base, '--image', 'debian-12', '--disk', '512M'], /larger than the 512 MiB disk/],
      [['vm', 'create', DEB, '--memory', '1G', '--disk', '2G'], /--cpus is required/],
    ] as const) {
      const out = await r([...args]);
      assert.equal(out.code, 2, `${args.join(' ')}: ${out.stderr}`);
      assert.match(out.stderr, re);
    }
    assert.equal(hostSnapshot(config), before);
  });

  test('--dry-run shows the seed step, meta-data and the user-data with the key; changes nothing', async () => {
    const before = hostSnapshot(config);
    const extra = join(dir, 'extra.yaml');
    writeFileSync(extra, '#cloud-config\nruncmd:\n  - [touch, /run/raptor-admin-extra]\n');
    const out = await r(['vm', 'create', DEB, '--image', 'debian-12', '--flavor', 'small', '--ssh-key', `${key}.pub`, '--user-data', extra, '--dry-run', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const plan = out.json as { steps: { kind: string; path?: string; metaData?: string; userData?: string }[]; xml: string };
    const seed = plan.steps.find((s) => s.kind === 'seed-write');
    assert.ok(seed, 'a seed-write step');
    assert.equal(seed.path, `${config.seed_dir}/${DEB}-cidata.img`);
    const uuid = /<uuid>([0-9a-f-]{36})<\/uuid>/.exec(plan.xml)?.[1];
    assert.ok(uuid, 'the plan fixes the domain UUID');
    assert.deepEqual(parse(seed.metaData!), { 'instance-id': uuid, 'local-hostname': DEB });
    const ud = parse(seed.userData!) as { users: { name: string; ssh_authorized_keys: string[] }[]; runcmd: string[][] };
    assert.equal(ud.users[0]!.name, USER);
    assert.deepEqual(ud.users[0]!.ssh_authorized_keys, [readFileSync(`${key}.pub`, 'utf8').trim()]);
    assert.deepEqual(ud.runcmd.at(-1), ['touch', '/run/raptor-admin-extra']);
    assert.match(plan.xml, new RegExp(`<source file="${seed.path}"/>\\s*<target dev="vdb" bus="virtio"/>\\s*<readonly/>`));
    const text = await r(['vm', 'create', DEB, '--image', 'debian-12', '--flavor', 'small', '--ssh-key', `${key}.pub`, '--dry-run']);
    assert.match(text.stdout, /write the cloud-init seed .*cg-deb-cidata\.img/);
    assert.match(text.stdout, /Seed user-data:\n#cloud-config\n/);
    const none = await r(['vm', 'create', DEB, '--image', 'debian-12', '--flavor', 'small', '--no-cloud-init', '--dry-run', '--json']);
    assert.equal(none.code, 0, none.stderr);
    const nonePlan = none.json as { steps: { kind: string }[]; xml: string; allocation: { seed: string | null } };
    assert.ok(!nonePlan.steps.some((s) => s.kind === 'seed-write'), '--no-cloud-init: no seed step');
    assert.equal(nonePlan.allocation.seed, null);
    assert.doesNotMatch(nonePlan.xml, /cidata/);
    assert.equal(hostSnapshot(config), before);
  });

  test('debian-12: login prompt on hvc0, ssh as the owner by DNS address prints {user}-{name}, Secure Boot on; destroy removes the seed', { timeout: 900_000 }, async () => {
    try {
      await bootDebian();
    } catch (err) {
      cleanup(config, [DEB]); // the next test needs the CPUs
      throw err;
    }
  });

  async function bootDebian() {
    const t0 = Date.now();
    const out = await r(['vm', 'create', DEB, '--image', 'debian-12', '--flavor', 'small', '--cpus', '2', '--bridge', 'br-vm3', '--ssh-key', `${key}.pub`, '--start', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const seedPath = `${config.seed_dir}/${DEB}-cidata.img`;
    const parsed = parseDomainXml(dumpxml(DEB));
    assert.equal(parsed.seed, seedPath);
    assert.equal(statSync(config.seed_dir).mode & 0o777, 0o711, 'the seed directory lists for no one but root');
    assert.equal(statSync(seedPath).mode & 0o777, 0o600, 'the seed is readable by its owner only');
    const show = (await r(['vm', 'show', DEB, '--json'])).json as { image: string; flavor: string; seed: string };
    assert.deepEqual([show.image, show.flavor, show.seed], ['debian-12', 'small', seedPath]);

    const [addr] = dnsAnswers(config, `${DEB}.${config.dns.zone}`, 'A');
    assert.equal(addr, config.bridges.find((b) => b.name === 'br-vm3')?.ipv4);
    let hostname = '';
    while (Date.now() - t0 < 600_000) {
      const res = ssh(addr!, 'hostname', 3);
      if (res.status === 0) {
        hostname = res.stdout.trim();
        break;
      }
      await sleep(1000);
    }
    const sshReadyS = (Date.now() - t0) / 1000;
    assert.equal(hostname, DEB, 'ssh as the owner with the key prints {user}-{name}');
    console.log(`# ssh-ready ${sshReadyS.toFixed(1)} s after vm create began`);

    await waitForConsoleText(DEB, new RegExp(`${DEB} login: `), 300_000);
    const facts = ssh(addr!, 'cloud-init status --wait >/dev/null; cloud-init status; sudo dmesg | grep -i "secure boot"; od -An -tu1 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c; cat /proc/cmdline; systemctl is-active serial-getty@hvc0.service; cat /etc/modules-load.d/raptor-virtio-console.conf; grep -c virtio_console /proc/modules', 10);
    const blame = ssh(addr!, 'systemd-analyze; systemd-analyze blame | head -n 12; cloud-init analyze show | grep -E "Finished stage|Total Time"', 10);
    for (const l of blame.stdout.trim().split('\n')) console.log(`# guest: ${l}`);
    assert.equal(facts.status, 0, facts.stderr);
    assert.match(facts.stdout, /status: done/, 'cloud-init finished without errors');
    assert.match(facts.stdout, /Secure boot enabled/);
    assert.match(facts.stdout, /^\s*(\d+\s+){4}1\s*$/m, 'the SecureBoot EFI variable (4 attribute bytes, then the value) is 1');
    assert.match(facts.stdout, /console=hvc0/);
    assert.match(facts.stdout, /^active$/m);
    assert.match(facts.stdout, /^virtio_console$/m);

    const d = await r(['vm', 'destroy', DEB, '--yes']);
    assert.equal(d.code, 0, d.stderr);
    assert.ok(!existsSync(seedPath), 'destroy removed the seed');
    assert.ok(!virshNames().includes(DEB));
    assert.deepEqual(dnsAnswers(config, `${DEB}.${config.dns.zone}`, 'A'), []);
  }

  test('the busybox guest (no cloud-init) boots with the seed attached', { timeout: 600_000 }, async () => {
    const out = await r(['vm', 'create', BB, '--image', 'busybox-demo', '--flavor', 'tiny', '--bridge', 'br-vm2', '--start', '--wait-for', 'raptor-guest: ready', '--timeout', '300']);
    assert.equal(out.code, 0, out.stderr);
    const seedPath = `${config.seed_dir}/${BB}-cidata.img`;
    assert.equal(parseDomainXml(dumpxml(BB)).seed, seedPath);
    assert.ok(seedFiles(config).includes(`${BB}-cidata.img`));
    const log = readFileSync(join(config.console_log_dir, `${BB}-console.log`), 'latin1');
    assert.match(log, /raptor-guest: secureboot=enabled/);
    const d = await r(['vm', 'destroy', BB, '--yes']);
    assert.equal(d.code, 0, d.stderr);
    assert.ok(!existsSync(seedPath));
  });
});
