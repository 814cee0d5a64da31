// `raptor vm adopt`: check a domain made by hand against every house rule, and plan the edits of
// its persistent definition that make it follow them. Pure: XML, config and host state in, a plan out.
import type { Config } from '../core/config.ts';
import { allocateCpus, formatCpuList, parseCpuList } from '../core/cpus.ts';
import { isRaptorError } from '../core/errors.ts';
import { lineDiff } from '../core/line-diff.ts';
import { tryParseVmId, type VmId } from '../core/naming.ts';
import { parseDomainXml, RAPTOR_XMLNS, type ParsedDomain } from '../libvirt/domain-xml.ts';
import {
  attrOf,
  child,
  childrenNamed,
  DomainDocument,
  el,
  ensureChild,
  insertChild,
  removeChildren,
  setAttr,
  setText,
  tagOf,
  type XmlNode,
} from '../libvirt/domain-edit.ts';
import type { DomainState } from '../core/host-types.ts';
import { cpusPinned, namesFor, type HostState } from './planner.ts';
import type { Step } from './steps.ts';

export type Rule = 'name' | 'vcpu-pins' | 'emulator-pin' | 'graphics' | 'video' | 'console' | 'disk' | 'network' | 'nvram' | 'loader' | 'smm';

export interface Violation {
  rule: Rule;
  found: string;
  want: string;
  /** false: raptor will not change this (the reason is in `why`) */
  fixable: boolean;
  why?: string;
}

/** What the fix changes in the persistent definition; absent fields stay as they are. */
interface Fixes {
  pins?: number[];
  emulator?: number[];
  graphics?: boolean;
  video?: boolean;
  console?: 'virtio' | 'serial';
  disk?: { path: string };
  mac?: string;
  nvram?: { path: string; template: string; copyFrom?: string };
  loader?: string;
  smm?: boolean;
}

export interface Assessment {
  vm: VmId | undefined;
  parsed: ParsedDomain;
  violations: Violation[];
  fixes: Fixes;
}

const LV_MAPPER = (vg: string, lv: string): string => `/dev/mapper/${vg.replace(/-/g, '--')}-${lv.replace(/-/g, '--')}`;
const sameSet = (a: readonly number[], b: readonly number[]): boolean => formatCpuList(a) === formatCpuList(b);

/** Every house rule the domain's definition breaks, and how each would be fixed. */
export function assessDomain(config: Config, xml: string, host: HostState, exists: (path: string) => boolean): Assessment {
  const p = parseDomainXml(xml);
  const vm = tryParseVmId(p.name);
  const out: Violation[] = [];
  const fixes: Fixes = {};
  const bad = (v: Violation) => out.push(v);
  const others = host.domains.filter((d) => d.name !== p.name);

  if (!vm) {
    bad({
      rule: 'name',
      found: p.name,
      want: '{user}-{name}: a user of a-z, 0-9, _ (no "-") and a DNS label, at most 63 characters',
      fixable: false,
      why: `its name ${p.name} breaks the naming rule; a rename would rename its volume, NVRAM and DNS names too, so rename it by hand (virsh domrename) or recreate it with raptor vm create`,
    });
  }

  // CPUs: one host CPU per vCPU, of its own, outside cpus.reserved
  const reserved = parseCpuList(config.cpus.reserved, 'cpus.reserved');
  const taken = new Map<number, string>();
  for (const d of others) for (const c of d.parsed.pinnedCpus) if (!taken.has(c)) taken.set(c, d.name);
  const sets = p.vcpuPinSets;
  const problems: string[] = [];
  if (sets.length === 0) problems.push('not pinned');
  else {
    const seen = new Set<number>();
    for (let v = 0; v < p.vcpus; v++) {
      const s = sets.find((x) => x.vcpu === v);
      if (!s) problems.push(`vCPU ${v} not pinned`);
      else if (s.cpus.length !== 1) problems.push(`vCPU ${v} on ${formatCpuList(s.cpus)}`);
      else {
        const c = s.cpus[0]!;
        if (seen.has(c)) problems.push(`CPU ${c} shared by two vCPUs`);
        if (reserved.includes(c)) problems.push(`CPU ${c} is reserved`);
        if (taken.has(c)) problems.push(`CPU ${c} also used by ${taken.get(c)}`);
        if (!host.hostCpus.includes(c)) problems.push(`CPU ${c} is not online`);
        seen.add(c);
      }
    }
    if (sets.some((x) => x.vcpu >= p.vcpus)) problems.push('pins for vCPUs it does not have');
  }
  let pins = p.vcpuPins;
  if (problems.length) {
    const want = `each of its ${p.vcpus} vCPU(s) on a host CPU of its own (${config.cpus.reserved ? `not in cpus.reserved ${config.cpus.reserved}, ` : ''}not pinned by another domain)`;
    try {
      const alloc = allocateCpus({ hostCpus: host.hostCpus, reserved, pinned: cpusPinned(host, p.name) }, p.vcpus, config.cpus.emulator);
      pins = alloc.vcpuPins;
      fixes.pins = pins;
      bad({ rule: 'vcpu-pins', found: problems.join(', '), want: `${want}: CPUs ${formatCpuList(pins)}`, fixable: true });
    } catch (err) {
      if (!isRaptorError(err)) throw err;
      bad({ rule: 'vcpu-pins', found: problems.join(', '), want, fixable: false, why: err.message });
    }
  }
  const emulatorWant = config.cpus.emulator === 'own-last-2' ? pins.slice(-Math.min(2, pins.length)) : parseCpuList(config.cpus.emulator, 'cpus.emulator');
  if (pins.length && !sameSet(p.emulatorSet, emulatorWant)) {
    fixes.emulator = emulatorWant;
    bad({
      rule: 'emulator-pin',
      found: p.emulatorSet.length ? `emulator on ${formatCpuList(p.emulatorSet)}` : 'emulator not pinned',
      want: `emulator on ${formatCpuList(emulatorWant)} (cpus.emulator = ${config.cpus.emulator})`,
      fixable: true,
    });
  }

  // console: no graphics, no video, a VirtIO or serial console
  const doc = DomainDocument.parse(xml);
  const devices = child(doc.domain, 'devices');
  const graphics = devices ? childrenNamed(devices, 'graphics').map((g) => attrOf(g, 'type') ?? '?') : [];
  if (graphics.length) {
    fixes.graphics = true;
    bad({ rule: 'graphics', found: graphics.map((t) => `${t} graphics`).join(', '), want: 'no graphics', fixable: true });
  }
  if (!p.videoNone) {
    const models = devices ? childrenNamed(devices, 'video').map((v) => attrOf(child(v, 'model'), 'type') ?? '?') : [];
    fixes.video = true;
    bad({ rule: 'video', found: `video ${models.join(', ')}`, want: 'video model none (or no video device)', fixable: true });
  }
  if (p.console === null) {
    fixes.console = config.console;
    bad({ rule: 'console', found: 'no VirtIO or serial console', want: `a ${config.console === 'virtio' ? 'VirtIO' : 'serial'} console (console = "${config.console}")`, fixable: true });
  }

  const names = vm ? namesFor(config, vm) : undefined;
  // the disk: the LV guest-{user}-{name}, a block device on virtio
  if (names) {
    const want = `one disk: block device ${names.lvPath} on virtio`;
    const lvExists = host.lvs.some((l) => l.name === names.lv);
    if (p.disks.length === 0) {
      bad({ rule: 'disk', found: 'no disk', want, fixable: false, why: `it has no disk: attach ${names.lvPath} by hand (virsh attach-disk --config) or recreate it with raptor vm create` });
    } else if (p.disks.length > 1) {
      bad({
        rule: 'disk',
        found: `${p.disks.length} disks: ${p.disks.map((d) => d.path || d.type).join(', ')}`,
        want,
        fixable: false,
        why: `it has ${p.disks.length} disks and destroy wipes only ${names.lvPath}: move the data onto it and detach the others by hand (virsh detach-disk --config)`,
      });
    } else {
      const d = p.disks[0]!;
      const onLv = d.path === names.lvPath || d.path === LV_MAPPER(config.storage.vg, names.lv);
      if (!onLv) {
        const found = `${d.type} disk ${d.path || '(no path)'}`;
        const why = d.path.startsWith('/dev/')
          ? `its disk ${d.path} is not the volume ${config.storage.vg}/${names.lv}: with the VM off, rename the volume by hand (lvrename ${config.storage.vg} OLD ${names.lv}) and point the disk at ${names.lvPath}`
          : `its disk is a ${d.type === 'file' ? 'file' : `${d.type} disk`} (${d.path || 'no path'}), which cannot be moved onto a volume safely: lvcreate ${config.storage.vg}/${names.lv}, copy the data by hand with the VM off (qemu-img convert -O raw), then point the disk at ${names.lvPath}`;
        bad({ rule: 'disk', found, want, fixable: false, why });
      } else if (!lvExists) {
        bad({ rule: 'disk', found: `${d.path} (no such volume in ${config.storage.vg})`, want, fixable: false, why: `${names.lvPath} is not a volume of ${config.storage.vg}` });
      } else if (others.some((o) => o.parsed.disks.some((k) => k.path === names.lvPath || k.path === LV_MAPPER(config.storage.vg, names.lv)))) {
        const users = others.filter((o) => o.parsed.disks.some((k) => k.path === names.lvPath || k.path === LV_MAPPER(config.storage.vg, names.lv))).map((o) => o.name);
        bad({ rule: 'disk', found: `${d.path}, also a disk of ${users.join(', ')}`, want: `${want}, its own`, fixable: false, why: `its volume ${names.lvPath} is also a disk of ${users.join(', ')}: detach it there first (destroy would zero it under that domain)` });
      } else if (d.type !== 'block' || d.bus !== 'virtio' || d.path !== names.lvPath) {
        fixes.disk = { path: names.lvPath };
        bad({ rule: 'disk', found: `${d.type} disk ${d.path} on ${d.bus || 'no bus'}`, want: `${want}${d.bus !== 'virtio' ? ' (the guest sees it as /dev/vda from the next boot)' : ''}`, fixable: true });
      }
    }
  }

  // the NIC: at most one, on a pool bridge no other domain uses, with that bridge's MAC
  if (p.interfaces.length > 1) {
    bad({ rule: 'network', found: `${p.interfaces.length} interfaces`, want: 'at most one interface, on a bridge of the pool', fixable: false, why: `it has ${p.interfaces.length} interfaces: raptor VMs have one (or none); detach the others by hand (virsh detach-interface --config)` });
  } else if (p.interfaces.length === 1) {
    const i = p.interfaces[0]!;
    const pool = config.bridges.find((b) => b.name === i.bridge && i.type === 'bridge');
    const poolNames = config.bridges.map((b) => b.name).join(', ');
    if (!pool) {
      bad({
        rule: 'network',
        found: i.type === 'bridge' ? `bridge ${i.bridge}` : `a ${i.type || 'non-bridge'} interface`,
        want: `a bridge of the pool (${poolNames})`,
        fixable: false,
        why: `its interface is not on a bridge of the pool (${poolNames}); moving it would change its addresses, so attach it to a free pool bridge by hand or remove the interface`,
      });
    } else {
      const sharers = others.filter((d) => d.parsed.interfaces.some((x) => x.bridge === pool.name)).map((d) => d.name);
      const macUsers = others.filter((d) => d.parsed.interfaces.some((x) => x.mac === pool.mac)).map((d) => d.name);
      if (sharers.length) {
        bad({ rule: 'network', found: `bridge ${pool.name}, also used by ${sharers.join(', ')}`, want: 'a bridge of its own (one VM per bridge)', fixable: false, why: `bridge ${pool.name} is shared with ${sharers.join(', ')}: one VM per bridge, so move one of them by hand` });
      } else if (i.mac !== pool.mac) {
        if (macUsers.length) {
          bad({ rule: 'network', found: `MAC ${i.mac || 'none'} on ${pool.name}`, want: `MAC ${pool.mac}`, fixable: false, why: `MAC ${pool.mac} is already used by ${macUsers.join(', ')}` });
        } else {
          fixes.mac = pool.mac;
          bad({ rule: 'network', found: `MAC ${i.mac || 'none'} on ${pool.name}`, want: `MAC ${pool.mac} (the bridge's, so its DHCP server gives the VM its address)`, fixable: true });
        }
      }
    }
  }

  // firmware: the secure loader with the configured code, its own NVRAM from the template, SMM on
  const loaderOk = p.firmware !== null && p.firmware.secure && p.firmware.pflash && p.firmware.readonly && p.firmware.code === config.firmware.code;
  const machineQ35 = /q35/.test(p.machine);
  if (!loaderOk) {
    const found = p.firmware ? `loader ${p.firmware.code || '(chosen by libvirt)'}${p.firmware.secure ? '' : ', not secure'}${p.firmware.pflash ? '' : ', not pflash'}` : p.osFirmware ? `firmware="${p.osFirmware}" (chosen by libvirt)` : 'BIOS (no UEFI loader)';
    const want = `secure pflash loader ${config.firmware.code}`;
    if (!p.firmware && p.osFirmware !== 'efi') {
      bad({ rule: 'loader', found, want, fixable: false, why: 'it boots with BIOS: a guest installed for BIOS does not boot from UEFI firmware, so reinstall it for UEFI (raptor vm create)' });
    } else if (!machineQ35) {
      bad({ rule: 'loader', found, want, fixable: false, why: `its machine ${p.machine} is not q35, which Secure Boot needs; a chipset change is a new guest hardware: recreate it with raptor vm create` });
    } else {
      fixes.loader = config.firmware.code;
      bad({ rule: 'loader', found, want, fixable: true });
    }
  }
  if (!p.smm) {
    if (machineQ35) fixes.smm = true;
    bad({ rule: 'smm', found: 'smm off', want: 'smm on (Secure Boot needs it)', ...(machineQ35 ? { fixable: true } : { fixable: false, why: `its machine ${p.machine} is not q35` }) });
  }
  if (names && (p.firmware || p.osFirmware === 'efi')) {
    const current = p.firmware?.nvram ?? '';
    const template = p.firmware?.vars ?? '';
    if (current !== names.nvram || template !== config.firmware.vars) {
      const found = `NVRAM ${current || '(chosen by libvirt)'}${template ? ` from ${template}` : ''}`;
      const want = `NVRAM ${names.nvram} from ${config.firmware.vars}`;
      const sharer = others.find((d) => d.parsed.firmware?.nvram === names.nvram);
      if (sharer) bad({ rule: 'nvram', found, want, fixable: false, why: `${names.nvram} is the NVRAM of ${sharer.name}` });
      else if (current !== names.nvram && exists(names.nvram)) {
        bad({ rule: 'nvram', found, want, fixable: false, why: `${names.nvram} already exists and is not this domain's NVRAM: move it away by hand` });
      } else {
        const copyFrom = current && current !== names.nvram && exists(current) ? current : undefined;
        fixes.nvram = { path: names.nvram, template: config.firmware.vars, ...(copyFrom ? { copyFrom } : {}) };
        bad({ rule: 'nvram', found, want: `${want}${copyFrom ? ' (a copy of the current one, so its UEFI variables stay)' : ''}`, fixable: true });
      }
    }
  }
  return { vm, parsed: p, violations: out, fixes };
}

// ---- editing the definition ---------------------------------------------------------------

function applyFixes(doc: DomainDocument, f: Fixes, metadata: XmlNode | undefined): void {
  const d = doc.domain;
  if (f.pins) {
    const vcpu = ensureChild(d, 'vcpu', ['currentMemory', 'memory']);
    setText(vcpu, String(f.pins.length));
    for (const a of ['cpuset', 'current']) setAttr(vcpu, a, undefined);
    setAttr(vcpu, 'placement', 'static');
  }
  if (f.pins || f.emulator) {
    const cputune = ensureChild(d, 'cputune', ['vcpu', 'iothreads']);
    if (f.pins) {
      removeChildren(cputune, (c) => tagOf(c) === 'vcpupin');
      f.pins.forEach((cpu, vcpu) => insertChild(cputune, el('vcpupin', { vcpu: String(vcpu), cpuset: String(cpu) }), ['vcpupin']));
    }
    if (f.emulator) {
      removeChildren(cputune, (c) => tagOf(c) === 'emulatorpin');
      insertChild(cputune, el('emulatorpin', { cpuset: f.emulator.join(',') }), ['vcpupin']);
    }
  }
  if (f.loader || f.nvram) {
    const os = ensureChild(d, 'os');
    if (f.loader) {
      // an explicit loader replaces libvirt's own choice of firmware
      setAttr(os, 'firmware', undefined);
      removeChildren(os, (c) => tagOf(c) === 'firmware' || tagOf(c) === 'loader');
      insertChild(os, el('loader', { readonly: 'yes', secure: 'yes', type: 'pflash' }, [f.loader]), ['type']);
    }
    if (f.nvram) {
      removeChildren(os, (c) => tagOf(c) === 'nvram');
      insertChild(os, el('nvram', { template: f.nvram.template }, [f.nvram.path]), ['loader', 'type']);
    }
  }
  if (f.smm) {
    const features = ensureChild(d, 'features', ['os']);
    removeChildren(features, (c) => tagOf(c) === 'smm');
    insertChild(features, el('smm', { state: 'on' }), ['acpi', 'apic']);
  }
  const devices = ensureChild(d, 'devices');
  if (f.graphics) {
    removeChildren(devices, (c) => tagOf(c) === 'graphics');
    // SPICE channels and audio need SPICE graphics: libvirt refuses them without it
    removeChildren(devices, (c) => ['channel', 'redirdev'].includes(tagOf(c)) && attrOf(c, 'type') === 'spicevmc');
    removeChildren(devices, (c) => tagOf(c) === 'audio' && ['spice', 'vnc'].includes(attrOf(c, 'type') ?? ''));
  }
  if (f.video) {
    removeChildren(devices, (c) => tagOf(c) === 'video');
    insertChild(devices, el('video', {}, [el('model', { type: 'none' })]), ['graphics', 'console', 'serial', 'interface', 'disk']);
  }
  if (f.console) {
    const consoles = f.console === 'serial'
      ? [el('serial', { type: 'pty' }, [el('target', { port: '0' })]), el('console', { type: 'pty' }, [el('target', { type: 'serial', port: '0' })])]
      : [el('console', { type: 'pty' }, [el('target', { type: 'virtio', port: '0' })])];
    removeChildren(devices, (c) => tagOf(c) === 'console');
    for (const c of consoles.reverse()) insertChild(devices, c, ['serial', 'interface', 'disk']);
  }
  if (f.disk) {
    const disk = childrenNamed(devices, 'disk').find((x) => (attrOf(x, 'device') ?? 'disk') === 'disk')!;
    setAttr(disk, 'type', 'block');
    removeChildren(disk, (c) => tagOf(c) === 'source');
    insertChild(disk, el('source', { dev: f.disk.path }), ['driver']);
    const target = child(disk, 'target');
    if (attrOf(target, 'bus') !== 'virtio') {
      removeChildren(disk, (c) => tagOf(c) === 'target' || tagOf(c) === 'address');
      insertChild(disk, el('target', { dev: 'vda', bus: 'virtio' }), ['source']);
    }
  }
  if (f.mac) {
    const iface = childrenNamed(devices, 'interface')[0]!;
    removeChildren(iface, (c) => tagOf(c) === 'mac');
    // the MAC goes first, where libvirt puts it
    (iface[tagOf(iface)] as XmlNode[]).unshift(el('mac', { address: f.mac }));
  }
  if (metadata) {
    const md = ensureChild(d, 'metadata', ['description', 'title', 'uuid', 'name']);
    removeChildren(md, (c) => Object.entries((c[':@'] as Record<string, string>) ?? {}).some(([k, v]) => k.startsWith('@_xmlns') && v === RAPTOR_XMLNS));
    insertChild(md, metadata, []);
  }
}

export interface RaptorMetadataFields {
  owner: string;
  bridge: string | null;
  createdAt?: string;
  adoptedAt?: string;
}

/** raptor's metadata element, with the namespace prefix `raptor` (as `virsh metadata --key raptor` writes it). */
function metadataNode(m: RaptorMetadataFields, prefix: string): XmlNode {
  const kids: XmlNode[] = [el(`${prefix}owner`, {}, [m.owner])];
  if (m.bridge) kids.push(el(`${prefix}bridge`, {}, [m.bridge]));
  if (m.createdAt) kids.push(el(`${prefix}created-at`, {}, [m.createdAt]));
  if (m.adoptedAt) kids.push(el(`${prefix}adopted-at`, {}, [m.adoptedAt]));
  return el(`${prefix}vm`, prefix ? { 'xmlns:raptor': RAPTOR_XMLNS } : {}, kids);
}

// ---- the plan -------------------------------------------------------------------------------

export interface AdoptTarget {
  name: string;
  state: DomainState;
  /** the persistent definition, with secrets (dumpxml --inactive --security-info), so a redefine keeps them */
  xml: string;
}

export interface AdoptPlan {
  vm: string;
  violations: Violation[];
  /** set when raptor will not adopt it (exit 3); nothing is changed then */
  refusal?: string;
  /** the definition before and after, in one layout, and their difference */
  xmlBefore: string;
  xmlAfter: string;
  diff: string[];
  steps: Step[];
  /** it already followed the rules and carried raptor's metadata */
  alreadyAdopted: boolean;
}

export function planAdopt(config: Config, target: AdoptTarget, host: HostState, exists: (path: string) => boolean, opts: { fix: boolean; now: Date }): AdoptPlan {
  const a = assessDomain(config, target.xml, host, exists);
  const doc = DomainDocument.parse(target.xml);
  const xmlBefore = doc.render();
  const base = { vm: target.name, violations: a.violations, xmlBefore, xmlAfter: xmlBefore, diff: [] as string[], steps: [] as Step[], alreadyAdopted: false };
  const unfixable = a.violations.filter((v) => !v.fixable);
  if (unfixable.length) {
    return { ...base, refusal: `cannot adopt ${target.name}: ${unfixable.map((v) => v.why).join('; ')}; nothing changed` };
  }
  if (a.violations.length && !opts.fix) {
    return { ...base, refusal: `${target.name} breaks ${a.violations.length} house rule(s); raptor vm adopt ${target.name} --fix makes its persistent definition follow them (effective from the next boot); nothing changed` };
  }
  const vm = a.vm!;
  const old = a.parsed.metadata;
  const bridge = a.parsed.interfaces[0]?.bridge ?? null;
  const meta: RaptorMetadataFields = {
    owner: vm.user,
    bridge,
    ...(old?.createdAt ? { createdAt: old.createdAt } : {}),
    ...(old?.adoptedAt || !old?.createdAt ? { adoptedAt: old?.adoptedAt ?? opts.now.toISOString() } : {}),
  };
  const metadataCurrent = old !== undefined && old.owner === vm.user && (old.bridge ?? null) === bridge && Boolean(old.createdAt || old.adoptedAt);
  if (a.violations.length === 0 && metadataCurrent) return { ...base, alreadyAdopted: true };

  const edited = doc.clone();
  applyFixes(edited, a.fixes, metadataNode(meta, 'raptor:'));
  const xmlAfter = edited.render();
  const steps: Step[] = [];
  const nv = a.fixes.nvram;
  if (nv?.copyFrom) steps.push({ kind: 'nvram-copy', domain: target.name, from: nv.copyFrom, to: nv.path });
  steps.push({ kind: 'domain-redefine', domain: target.name, xml: xmlAfter, previousXml: target.xml });
  // a running domain shows its live definition: give it the metadata now, the rest waits for the next boot
  if (target.state !== 'shut off') {
    steps.push({ kind: 'domain-metadata-live', domain: target.name, namespace: RAPTOR_XMLNS, key: 'raptor', xml: DomainDocument.fragment(metadataNode(meta, '')) });
  }
  return { ...base, xmlAfter, diff: lineDiff(xmlBefore, xmlAfter), steps };
}
