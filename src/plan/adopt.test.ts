import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../core/config.ts';
import { lineDiff } from '../core/line-diff.ts';
import { parseDomainXml } from '../libvirt/domain-xml.ts';
import { assessDomain, planAdopt } from './adopt.ts';
import { planCreate, type HostState } from './planner.ts';

const GiB = 2 ** 30;
const config = parseConfigText('domain_type = "qemu"\n[cpus]\nreserved = "0"\n[[bridges]]\nname = "br-vm1"\n[[bridges]]\nname = "br-vm2"', 't');
const now = new Date('2026-11-26T12:00:00Z');
const host = (lvs: string[] = ['guest-alice-web']): HostState => ({
  hostCpus: [0, 1, 2, 3],
  domains: [],
  vg: { name: 'lvm-data', sizeBytes: 10 * GiB, freeBytes: 10 * GiB, extentBytes: 4 * 2 ** 20 },
  lvs: lvs.map((name) => ({ name, vg: 'lvm-data', sizeBytes: GiB, path: `/dev/lvm-data/${name}`, tags: [], open: false })),
});
const none = () => false;

// the way the procedure's admins made domains: virt-manager defaults, then some hand edits
const handMade = (opts: { name?: string; vcpus?: number; disk?: string; bridge?: string } = {}) => `<domain type='kvm'>
  <name>${opts.name ?? 'alice-web'}</name>
  <uuid>8b0c1c2e-1111-2222-3333-444455556666</uuid>
  <metadata><libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0"><libosinfo:os id="http://debian.org/debian/12"/></libosinfo:libosinfo></metadata>
  <memory unit='KiB'>2097152</memory>
  <vcpu placement='static'>${opts.vcpus ?? 2}</vcpu>
  <os><type arch='x86_64' machine='pc-q35-9.1'>hvm</type><loader readonly='yes' type='pflash'>/run/libvirt/nix-ovmf/OVMF_CODE.fd</loader><nvram>/var/lib/libvirt/qemu/nvram/web_VARS.fd</nvram></os>
  <features><acpi/><apic/></features>
  <devices>
    ${opts.disk ?? "<disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/lvm-data/guest-alice-web'/><target dev='sda' bus='sata'/><address type='drive' controller='0' bus='0' target='0' unit='0'/></disk>"}
    <disk type='file' device='cdrom'><target dev='sdb' bus='sata'/><readonly/></disk>
    <interface type='bridge'><mac address='52:54:00:12:34:56'/><source bridge='${opts.bridge ?? 'br-vm2'}'/><model type='virtio'/></interface>
    <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>
    <graphics type='spice' autoport='yes'><listen type='address'/></graphics>
    <video><model type='qxl' ram='65536' vram='65536' heads='1' primary='yes'/></video>
    <redirdev bus='usb' type='spicevmc'/>
  </devices>
</domain>`;

test('a domain raptor made follows every rule', () => {
  const plan = planCreate(config, { vm: { user: 'alice', name: 'web' }, uuid: '00000000-0000-4000-8000-0000000000aa', cpus: 2, memoryBytes: 512 * 2 ** 20, diskBytes: GiB }, { ...host(), lvs: [] }, now);
  const a = assessDomain(config, plan.xml, host(), none);
  assert.deepEqual(a.violations, []);
  const p = planAdopt(config, { name: 'alice-web', state: 'shut off', xml: plan.xml }, host(), none, { fix: false, now });
  assert.equal(p.alreadyAdopted, true);
  assert.deepEqual(p.steps, []);
});

test('a hand-made domain: one violation per broken rule; without --fix a refusal and no steps', () => {
  const p = planAdopt(config, { name: 'alice-web', state: 'shut off', xml: handMade() }, host(), none, { fix: false, now });
  assert.deepEqual(p.violations.map((v) => v.rule), ['vcpu-pins', 'emulator-pin', 'graphics', 'video', 'console', 'disk', 'network', 'loader', 'smm', 'nvram']);
  assert.ok(p.violations.every((v) => v.fixable));
  assert.match(p.refusal ?? '', /breaks 10 house rule\(s\); raptor vm adopt alice-web --fix/);
  assert.deepEqual(p.steps, []);
});

test('--fix: the edited definition follows every rule and keeps everything else', () => {
  const p = planAdopt(config, { name: 'alice-web', state: 'running', xml: handMade() }, host(), (f) => f === '/var/lib/libvirt/qemu/nvram/web_VARS.fd', { fix: true, now });
  assert.equal(p.refusal, undefined);
  assert.deepEqual(p.steps.map((s) => s.kind), ['nvram-copy', 'domain-redefine', 'domain-metadata-live']);
  assert.deepEqual(assessDomain(config, p.xmlAfter, host(), none).violations, [], 'fixing again finds nothing');
  const after = parseDomainXml(p.xmlAfter);
  assert.deepEqual(after.vcpuPins, [1, 2]);
  assert.deepEqual(after.emulatorSet, [1, 2]);
  assert.deepEqual(after.interfaces.map((i) => i.mac), ['52:54:00:00:00:02']);
  assert.deepEqual(after.metadata, { owner: 'alice', bridge: 'br-vm2', adoptedAt: now.toISOString() });
  assert.match(p.xmlAfter, /<uuid>8b0c1c2e-1111-2222-3333-444455556666<\/uuid>/);
  assert.match(p.xmlAfter, /<libosinfo:os id="http:\/\/debian.org\/debian\/12"\/>/, 'other metadata stays');
  assert.match(p.xmlAfter, /<disk type="file" device="cdrom">/, 'the CD-ROM stays');
  assert.doesNotMatch(p.xmlAfter, /spicevmc|<graphics|qxl|type="drive"/);
  const live = p.steps[2]!;
  assert.ok(live.kind === 'domain-metadata-live');
  assert.equal(live.xml, `<vm><owner>alice</owner><bridge>br-vm2</bridge><adopted-at>${now.toISOString()}</adopted-at></vm>`);
  const again = planAdopt(config, { name: 'alice-web', state: 'shut off', xml: p.xmlAfter }, host(), none, { fix: true, now });
  assert.equal(again.alreadyAdopted, true, 'a rerun converges');
});

test('CPUs other domains pin, reserved CPUs, and shared CPUs are violations; a shortage is not fixable', () => {
  const other = planCreate(config, { vm: { user: 'bob', name: 'db' }, uuid: '00000000-0000-4000-8000-0000000000bb', cpus: 2, memoryBytes: 2 ** 29, diskBytes: GiB, noNetwork: true }, { ...host(), lvs: [] }, now);
  const h: HostState = { ...host(), domains: [{ name: 'bob-db', state: 'running', parsed: parseDomainXml(other.xml) }] };
  const pinned = handMade().replace('<vcpu', "<cputune><vcpupin vcpu='0' cpuset='0'/><vcpupin vcpu='1' cpuset='1'/></cputune><vcpu");
  const v = assessDomain(config, pinned, h, none).violations.find((x) => x.rule === 'vcpu-pins')!;
  assert.match(v.found, /CPU 0 is reserved, CPU 1 also used by bob-db/);
  assert.equal(v.fixable, false, 'bob-db holds 1-2, 0 is reserved: only CPU 3 is free for 2 vCPUs');
  assert.match(v.why!, /not enough free CPUs: 2 requested, 1 free/);
});

test('what raptor will not fix: a disk on a file, a foreign block device, a bad name, a shared bridge, BIOS', () => {
  const refusal = (xml: string, name = 'alice-web', h = host()) => planAdopt(config, { name, state: 'shut off', xml }, h, none, { fix: true, now }).refusal ?? '';
  assert.match(refusal(handMade({ disk: "<disk type='file' device='disk'><source file='/var/lib/libvirt/images/web.qcow2'/><target dev='vda' bus='virtio'/></disk>" })), /its disk is a file \(\/var\/lib\/libvirt\/images\/web.qcow2\), which cannot be moved onto a volume safely/);
  assert.match(refusal(handMade({ disk: "<disk type='block' device='disk'><source dev='/dev/lvm-data/web'/><target dev='vda' bus='virtio'/></disk>" })), /is not the volume lvm-data\/guest-alice-web: .*lvrename/);
  assert.match(refusal(handMade({ name: 'Web_Server' }), 'Web_Server'), /its name Web_Server breaks the naming rule/);
  assert.match(refusal(handMade({ bridge: 'virbr0' })), /not on a bridge of the pool \(br-vm1, br-vm2\)/);
  const bob = planCreate(config, { vm: { user: 'bob', name: 'db' }, uuid: '00000000-0000-4000-8000-0000000000bb', cpus: 1, memoryBytes: 2 ** 29, diskBytes: GiB, bridge: 'br-vm2' }, { ...host(), lvs: [] }, now);
  assert.match(refusal(handMade(), 'alice-web', { ...host(), domains: [{ name: 'bob-db', state: 'shut off', parsed: parseDomainXml(bob.xml) }] }), /bridge br-vm2 is shared with bob-db/);
  assert.match(refusal(handMade().replace(/<loader[^>]*>[^<]*<\/loader><nvram>[^<]*<\/nvram>/, '')), /it boots with BIOS/);
  assert.match(refusal(handMade(), 'alice-web', host([])), /not a volume of lvm-data/);
  const twin = parseDomainXml(handMade({ name: 'alice-twin' }));
  assert.match(refusal(handMade(), 'alice-web', { ...host(), domains: [{ name: 'alice-twin', state: 'shut off', parsed: twin }] }), /its volume \/dev\/lvm-data\/guest-alice-web is also a disk of alice-twin/);
  assert.match(refusal(handMade(), 'alice-web'), /^$/, 'the plain hand-made one is fixable');
});

test('line diff: removals before additions, context, hunks', () => {
  const a = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].join('\n');
  const b = ['a', 'B', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].join('\n');
  assert.deepEqual(lineDiff(a, b, 1), ['  a', '- b', '+ B', '  c', '@@', '  i', '+ j']);
  assert.deepEqual(lineDiff(a, a), []);
});

test('a domain that follows the rules but was made by hand: plain adopt records the metadata, nothing else', () => {
  const plan = planCreate(config, { vm: { user: 'alice', name: 'web' }, uuid: '00000000-0000-4000-8000-0000000000aa', cpus: 1, memoryBytes: 2 ** 29, diskBytes: GiB, noNetwork: true }, { ...host(), lvs: [] }, now);
  const bare = plan.xml.replace(/<metadata>[\s\S]*<\/metadata>\n/, '');
  assert.doesNotMatch(bare, /raptor:/);
  const p = planAdopt(config, { name: 'alice-web', state: 'shut off', xml: bare }, host(), none, { fix: false, now });
  assert.deepEqual([p.refusal, p.violations, p.steps.map((s) => s.kind)], [undefined, [], ['domain-redefine']]);
  assert.deepEqual(p.diff.filter((l) => l.startsWith('-')), [], 'only additions');
  assert.deepEqual(parseDomainXml(p.xmlAfter).metadata, { owner: 'alice', adoptedAt: now.toISOString() });
});

test('firmware chosen by libvirt (firmware="efi") gets the explicit secure loader; serial console when configured', () => {
  const serial = parseConfigText('console = "serial"\n[cpus]\nreserved = "0"\n[[bridges]]\nname = "br-vm1"\n[[bridges]]\nname = "br-vm2"', 't');
  const xml = handMade().replace("<os>", "<os firmware='efi'>").replace(/<loader[^>]*>[^<]*<\/loader><nvram>[^<]*<\/nvram>/, '');
  const p = planAdopt(serial, { name: 'alice-web', state: 'shut off', xml }, host(), none, { fix: true, now });
  assert.equal(p.refusal, undefined);
  assert.match(p.violations.find((v) => v.rule === 'loader')!.found, /firmware="efi" \(chosen by libvirt\)/);
  const after = parseDomainXml(p.xmlAfter);
  assert.equal(after.osFirmware, null);
  assert.deepEqual(after.firmware, { code: serial.firmware.code, vars: serial.firmware.vars, nvram: '/var/lib/libvirt/qemu/nvram/alice-web_VARS.fd', secure: true, pflash: true, readonly: true });
  assert.equal(after.console, 'serial');
  assert.match(p.xmlAfter, /<serial type="pty">/);
  assert.deepEqual(assessDomain(serial, p.xmlAfter, host(), none).violations, []);
});
