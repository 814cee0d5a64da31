// vm adopt against the sandbox's real libvirtd and LVM: a domain made by hand the way the procedure's
// admins did is reported rule by rule, fixed, then destroyed by raptor with the wipe; domains that
// cannot be adopted are left exactly as they were. VM ids: adam-* and AdamWeb (no other test's).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { parseDomainXml } from '../../src/libvirt/domain-xml.ts';
import { raptorAs, removeAccount, rootOk } from './lib/users.ts';
import { cleanup, defineXml, dnsAnswers, hostSnapshot, loadTestConfig, lvm, lvPlacement, raptor, readBytes, sh, testConfigPath, virshNames, writeBytes } from './lib/raptor.ts';

const URI = 'qemu:///system';
const virsh = (...args: string[]) => sh(['virsh', '-c', URI, ...args]);
const persistent = (name: string) => virsh('dumpxml', '--inactive', '--security-info', name);
const MiB = 2 ** 20;

describe('vm adopt', { timeout: 600_000 }, () => {
  const cfgPath = testConfigPath('shutdown_timeout_s = 3');
  const config = loadTestConfig(cfgPath);
  const ids = ['adam-web', 'adam-file', 'adam-big', 'AdamWeb'];
  const handNvram = `${config.nvram_dir}/adam-web-by-hand.fd`;
  const fileDisk = '/var/lib/libvirt/images/adam-file.qcow2';
  const r = (args: string[]) => raptor(args, { config: cfgPath });
  const tidy = () => {
    removeAccount('adam');
    cleanup(config, ids);
    rmSync(handNvram, { force: true });
    rmSync(fileDisk, { force: true });
  };
  // the OVMF build without Secure Boot, beside the configured one (Debian: OVMF_CODE_4M.fd)
  const plainCode = config.firmware.code.replace('.secboot', '');
  const plainVars = config.firmware.vars.replace('.ms', '');

  before(tidy);
  after(tidy);

  test('a hand-made domain is reported rule by rule, fixed by --fix, then destroyed with the wipe', async () => {
    const lvPath = `/dev/${config.storage.vg}/guest-adam-web`;
    lvm(config, ['lvcreate', '-y', '-L', '64M', '-n', 'guest-adam-web', config.storage.vg]);
    const secret = randomBytes(MiB);
    writeBytes(lvPath, 0, secret);
    writeBytes(lvPath, 40 * MiB, secret);
    defineXml(`<domain type='qemu'>
  <name>adam-web</name>
  <memory unit='MiB'>128</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <loader readonly='yes' type='pflash'>${plainCode}</loader>
    <nvram template='${plainVars}'>${handNvram}</nvram>
    <boot dev='hd'/>
  </os>
  <features><acpi/><apic/></features>
  <devices>
    <disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='${lvPath}'/><target dev='sda' bus='sata'/></disk>
    <interface type='bridge'><mac address='52:54:00:aa:bb:cc'/><source bridge='br-vm4'/><model type='virtio'/></interface>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
    <video><model type='vga' vram='16384' heads='1'/></video>
  </devices>
</domain>`);
    virsh('start', 'adam-web');
    assert.ok(existsSync(handNvram), 'libvirt made the NVRAM at the hand-picked path');
    const uuid = parseUuid(persistent('adam-web'));

    // reported rule by rule; without --fix nothing changes, exit 3
    const before = { xml: persistent('adam-web'), host: hostSnapshot(config) };
    const report = await r(['vm', 'adopt', 'adam-web']);
    assert.equal(report.code, 3, report.stderr);
    const rules = ['vcpu-pins', 'emulator-pin', 'graphics', 'video', 'console', 'disk', 'network', 'loader', 'smm', 'nvram'];
    const lines = report.stdout.trim().split('\n');
    assert.deepEqual(lines.map((l) => l.split(/\s+/)[0]).sort(), [...rules].sort(), report.stdout);
    assert.match(report.stdout, /^graphics\s+vnc graphics; want no graphics$/m);
    assert.match(report.stdout, /^network\s+MAC 52:54:00:aa:bb:cc on br-vm4; want MAC 52:54:00:00:00:04/m);
    assert.match(report.stdout, /^vcpu-pins\s+not pinned; want/m);
    assert.match(report.stdout, new RegExp(`^nvram\\s+NVRAM ${handNvram} from ${plainVars}; want NVRAM ${config.nvram_dir}/adam-web_VARS.fd from ${config.firmware.vars}`, 'm'));
    assert.match(report.stderr, /^raptor: adam-web breaks 10 house rule\(s\); raptor vm adopt adam-web --fix .*nothing changed\n$/);
    assert.deepEqual({ xml: persistent('adam-web'), host: hostSnapshot(config) }, before);

    // --dry-run: the violations as JSON, the diff, the commands; nothing changes
    const dry = await r(['--json', 'vm', 'adopt', 'adam-web', '--fix', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    const plan = dry.json as { vm: string; violations: { rule: string; found: string; want: string; fixable: boolean }[]; steps: { kind: string; commands: string[] }[]; diff: string[] };
    assert.equal(plan.vm, 'adam-web');
    assert.deepEqual(plan.violations.map((v) => v.rule).sort(), [...rules].sort());
    assert.ok(plan.violations.every((v) => v.fixable && v.found && v.want));
    assert.deepEqual(plan.steps.map((s) => s.kind), ['nvram-copy', 'domain-redefine', 'domain-metadata-live']);
    assert.ok(plan.steps[1]!.commands.includes(`virsh -c ${URI} define adam-web.xml`));
    assert.ok(plan.diff.some((l) => /^- .*<graphics type="vnc"/.test(l)), plan.diff.join('\n'));
    assert.ok(plan.diff.some((l) => /^\+ .*<vcpupin vcpu="0" cpuset="\d+"\/>/.test(l)));
    assert.ok(plan.diff.some((l) => /^\+ .*<mac address="52:54:00:00:00:04"\/>/.test(l)));
    const human = await r(['vm', 'adopt', 'adam-web', '--fix', '--dry-run']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /Persistent definition, before -> after:\n/);
    assert.deepEqual({ xml: persistent('adam-web'), host: hostSnapshot(config) }, before);

    // --fix: the persistent definition follows every rule; the running guest keeps its devices until it reboots
    const fixed = await r(['vm', 'adopt', 'adam-web', '--fix']);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stdout, /adopted adam-web: 10 rule\(s\) fixed in its persistent definition, effective from its next boot/);
    const p = parseDomainXml(persistent('adam-web'));
    const br4 = config.bridges.find((b) => b.name === 'br-vm4')!;
    assert.equal(parseUuid(persistent('adam-web')), uuid, 'same domain, same UUID');
    assert.equal(p.graphics, 0);
    assert.equal(p.videoNone, true);
    assert.equal(p.console, 'virtio');
    assert.deepEqual(p.disks, [{ path: lvPath, bus: 'virtio', type: 'block' }]);
    assert.deepEqual(p.interfaces.map((i) => [i.bridge, i.mac]), [['br-vm4', br4.mac]]);
    assert.deepEqual(p.firmware, { code: config.firmware.code, vars: config.firmware.vars, nvram: `${config.nvram_dir}/adam-web_VARS.fd`, secure: true, pflash: true, readonly: true });
    assert.equal(p.smm, true);
    assert.equal(p.vcpuPinSets.length, 1);
    assert.deepEqual(p.emulatorSet, p.vcpuPins.slice(-2));
    assert.equal(p.metadata?.owner, 'adam');
    assert.equal(p.metadata?.bridge, 'br-vm4');
    assert.match(p.metadata?.adoptedAt ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(readFileSync(`${config.nvram_dir}/adam-web_VARS.fd`), readFileSync(handNvram), 'its UEFI variables came along');
    const live = parseDomainXml(virsh('dumpxml', 'adam-web'));
    assert.equal(live.graphics, 1, 'the running guest keeps its devices until the next boot');
    assert.equal(live.metadata?.owner, 'adam', 'the running domain carries the metadata now');

    const again = await r(['vm', 'adopt', 'adam-web', '--fix']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /adam-web follows the house rules and is raptor's: nothing to do/);

    const check = await r(['--json', 'host', 'check']);
    const checkLines = check.json as { check: string; ok: boolean; detail: string }[];
    assert.deepEqual(checkLines.filter((l) => l.check.startsWith('domain adam-web')), [{ check: 'domain adam-web', ok: true, detail: 'follows the house rules', fix: null }]);

    // list, show, dns sync and destroy treat it as raptor's; show is the running guest: the old MAC until it boots again
    const show = async () => {
      const s = await r(['--json', 'vm', 'show', 'adam-web']);
      assert.equal(s.code, 0, s.stderr);
      return s.json as { user: string; managed: boolean; adoptedAt: string | null; network: { mac: string } };
    };
    const info = await show();
    assert.deepEqual([info.user, info.managed, info.network.mac], ['adam', true, '52:54:00:aa:bb:cc']);
    assert.equal(info.adoptedAt, p.metadata?.adoptedAt);
    for (const verb of [['stop', '--force'], ['start']]) {
      const out = await r(['vm', verb[0]!, 'adam-web', ...verb.slice(1)]);
      assert.equal(out.code, 0, out.stderr);
    }
    const rebooted = parseDomainXml(virsh('dumpxml', 'adam-web'));
    assert.deepEqual([rebooted.graphics, rebooted.videoNone, rebooted.console, rebooted.firmware?.secure], [0, true, 'virtio', true], 'from the next boot the guest runs by the rules');
    assert.equal((await show()).network.mac, br4.mac);
    const list = await r(['--json', 'vm', 'list', '--user', 'adam']);
    assert.deepEqual((list.json as { name: string; managed: boolean }[]).map((v) => [v.name, v.managed]), [['adam-web', true]]);
    const sync = await r(['dns', 'sync']);
    assert.equal(sync.code, 0, sync.stderr);
    assert.deepEqual(dnsAnswers(config, `adam-web.${config.dns.zone}`, 'A'), [br4.ipv4]);

    const place = lvPlacement(config, 'guest-adam-web');
    assert.deepEqual(readBytes(place.pv, place.offset, MiB), secret, 'the bytes are on the PV before the wipe');
    const destroy = await r(['vm', 'destroy', 'adam-web', '--yes']);
    assert.equal(destroy.code, 0, destroy.stderr);
    assert.ok(!virshNames().includes('adam-web'));
    assert.ok(!existsSync(`${config.nvram_dir}/adam-web_VARS.fd`));
    assert.deepEqual(dnsAnswers(config, `adam-web.${config.dns.zone}`, 'A'), []);
    for (const off of [0, 40 * MiB]) {
      assert.ok(readBytes(place.pv, place.offset + off, MiB).every((b) => b === 0), `PV bytes at +${off} are zeroed`);
    }
  });

  test('domains that cannot be adopted are left exactly as they were (exit 3)', async () => {
    sh(['mkdir', '-p', '/var/lib/libvirt/images']);
    sh(['qemu-img', 'create', '-q', '-f', 'qcow2', fileDisk, '16M']);
    defineXml(`<domain type='qemu'><name>adam-file</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><loader readonly='yes' secure='yes' type='pflash'>${config.firmware.code}</loader><nvram template='${config.firmware.vars}'/></os>
  <features><acpi/><smm state='on'/></features>
  <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${fileDisk}'/><target dev='vda' bus='virtio'/></disk>
  <graphics type='vnc' port='-1' autoport='yes'/></devices></domain>`);
    lvm(config, ['lvcreate', '-y', '-L', '16M', '-n', 'guest-adam-big', config.storage.vg]);
    const hostCpus = Number(sh(['nproc', '--all']).trim());
    defineXml(`<domain type='qemu'><name>adam-big</name><memory unit='MiB'>64</memory><vcpu>${hostCpus + 1}</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><loader readonly='yes' secure='yes' type='pflash'>${config.firmware.code}</loader><nvram template='${config.firmware.vars}'/></os>
  <features><acpi/><smm state='on'/></features>
  <devices><disk type='block' device='disk'><source dev='/dev/${config.storage.vg}/guest-adam-big'/><target dev='vda' bus='virtio'/></disk><console type='pty'><target type='virtio'/></console></devices></domain>`);
    defineXml(`<domain type='qemu'><name>AdamWeb</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os></domain>`);

    const cases: [string, RegExp, string][] = [
      ['adam-file', /cannot adopt adam-file: its disk is a file \(\/var\/lib\/libvirt\/images\/adam-file\.qcow2\), which cannot be moved onto a volume safely/, 'disk'],
      ['adam-big', /cannot adopt adam-big: not enough free CPUs: \d+ requested/, 'vcpu-pins'],
      ['AdamWeb', /cannot adopt AdamWeb: its name AdamWeb breaks the naming rule/, 'name'],
    ];
    for (const [name, re, rule] of cases) {
      const before = { xml: persistent(name), host: hostSnapshot(config) };
      for (const args of [['vm', 'adopt', name, '--fix'], ['vm', 'adopt', name], ['vm', 'adopt', name, '--fix', '--dry-run']]) {
        const out = await r(args);
        assert.equal(out.code, 3, `${args.join(' ')}: ${out.stderr}`);
        assert.match(out.stderr, re);
        assert.equal(out.stderr.trim().split('\n').length, 1, 'one line');
        assert.deepEqual({ xml: persistent(name), host: hostSnapshot(config) }, before, `${args.join(' ')} changed something`);
      }
      const json = await r(['--json', 'vm', 'adopt', name, '--fix']);
      assert.equal(json.code, 3);
      const doc = json.json as { vm: string; violations: { rule: string; fixable: boolean }[]; error: { code: string } };
      assert.equal(doc.vm, name);
      assert.equal(doc.error.code, 'conflict');
      assert.ok(doc.violations.some((v) => v.rule === rule && !v.fixable), JSON.stringify(doc.violations));
    }

    // host check lists every domain's violations, with the reason where raptor will not fix them
    const check = await r(['--json', 'host', 'check']);
    assert.equal(check.code, 1);
    const lines = check.json as { check: string; ok: boolean; detail: string; fix: string | null }[];
    const disk = lines.find((l) => l.check === 'domain adam-file: disk');
    assert.equal(disk?.ok, false);
    assert.match(disk?.fix ?? '', /cannot be moved onto a volume safely/);
    const graphics = lines.find((l) => l.check === 'domain adam-file: graphics');
    assert.equal(graphics?.fix, 'raptor vm adopt adam-file --fix (effective from its next boot)');
    assert.ok(lines.some((l) => l.check === 'domain AdamWeb: name' && !l.ok));

    // the owner himself, a vm-user, may not adopt (exit 5) and changes nothing
    rootOk(['useradd', '--create-home', 'adam']);
    chmodSync(cfgPath, 0o644);
    const asAdam = raptorAs('adam', cfgPath, ['vm', 'adopt', 'adam-file', '--fix']);
    assert.equal(asAdam.code, 5, asAdam.stderr);
    assert.match(asAdam.stderr, /raptor vm adopt needs an admin/);

    const missing = await r(['vm', 'adopt', 'adam-nosuch']);
    assert.equal(missing.code, 4, missing.stderr);
    const badArg = await r(['vm', 'adopt', 'a/b']);
    assert.equal(badArg.code, 2, badArg.stderr);
  });
});

function parseUuid(xml: string): string {
  return /<uuid>([^<]+)<\/uuid>/.exec(xml)![1]!;
}
