// The pure planner: a request and an observed host in, a plan (or a typed refusal) out.
import type { Config } from '../core/config.ts';
import { allocateBridge } from '../core/bridges.ts';
import { allocateCpus, parseCpuList } from '../core/cpus.ts';
import { badInput, conflict, notAllowed, notFound } from '../core/errors.ts';
import { artifactNames, validateHostName, type VmId } from '../core/naming.ts';
import { formatSize } from '../core/size.ts';
import { escapeControls } from '../core/quote.ts';
import { renderDomainXml, type DomainSpec, type ParsedDomain } from '../libvirt/domain-xml.ts';
import { TAG_CREATING, TAG_WIPED, type DomainState, type LogicalVolume, type VolumeGroup } from '../core/host-types.ts';
import { fitsInVg } from '../storage/capacity.ts';
import { describeHolders, type VolumeUse } from '../storage/volume-use.ts';
import type { DnsAnswers } from '../dns/records.ts';
import { planDnsAdd, planDnsRemove, type DnsQuestions } from './dns-steps.ts';
import type { Step } from './steps.ts';
import { checkQuota, noUsage, quotaFor, usageByUser } from '../core/quota.ts';
import { usageSource } from './usage.ts';

export interface ObservedDomain {
  name: string;
  state: DomainState;
  parsed: ParsedDomain;
  /** the persistent definition of a running domain, when it was read (a resize pending for the next boot) */
  inactive?: ParsedDomain;
}

export interface HostState {
  hostCpus: number[];
  domains: ObservedDomain[];
  vg: VolumeGroup | undefined;
  lvs: LogicalVolume[];
  /** paths of the cloud-init seed images present in the seed directory */
  seeds?: string[];
  /** the DNS server's answers for the VM's names (asked for by a plan's dnsQuestions) */
  dns?: DnsAnswers;
}

export interface CreateRequest {
  vm: VmId;
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
  bridge?: string;
  noNetwork?: boolean;
  start?: boolean;
  /** replace DNS data raptor did not write */
  force?: boolean;
  /** a disk image to write onto the new LV (inspected by the caller: format and virtual size) */
  image?: { path: string; format: 'raw' | 'qcow2'; virtualSize: number };
  /** ISO time after which `raptor vm reap` destroys the VM */
  expires?: string;
  /** an admin's override of the owner's quota (the audit log records it) */
  ignoreQuota?: boolean;
  /** what vm show reports the VM was made from: a catalogue name (or the path), a flavour */
  madeFrom?: { image?: string; flavor?: string };
  /** the domain UUID for a new domain (a resumed create keeps the defined one's) */
  uuid: string;
  /** the seed's files, for the UUID the plan settles on; absent: no seed (--no-cloud-init) */
  cloudInit?: (instanceId: string, console: 'virtio' | 'serial') => { metaData: string; userData: string };
}

export interface CreatePlan {
  vm: VmId;
  names: ReturnType<typeof artifactNames>;
  spec: DomainSpec;
  xml: string;
  steps: Step[];
  /** steps a crashed earlier run already finished */
  resumed: boolean;
  /** the plan needs these DNS answers (HostState.dns) and has no DNS step yet: observe, plan again */
  dnsQuestions?: DnsQuestions;
}

const MIB = 1024 ** 2;

export function namesFor(config: Config, vm: VmId) {
  return artifactNames(vm, { vg: config.storage.vg, nvramDir: config.nvram_dir, zone: config.dns.zone, consoleLogDir: config.console_log_dir, seedDir: config.seed_dir });
}

/** Bridges used by any domain on the host (raptor's or not), except `exceptDomain`. */
export function bridgesInUse(host: HostState, exceptDomain?: string): Set<string> {
  return new Set(host.domains.filter((d) => d.name !== exceptDomain).flatMap((d) => d.parsed.interfaces.map((i) => i.bridge)));
}

export function cpusPinned(host: HostState, exceptDomain?: string): number[] {
  return [...new Set(host.domains.filter((d) => d.name !== exceptDomain).flatMap((d) => [...d.parsed.pinnedCpus, ...(d.inactive?.pinnedCpus ?? [])]))];
}

export function planCreate(config: Config, req: CreateRequest, host: HostState, now: Date): CreatePlan {
  // the guest, DHCP and DNS all need a host name: refused before anything else (exit 2)
  validateHostName(req.vm, config.dns.enabled ? config.dns.zone : undefined);
  const names = namesFor(config, req.vm);
  if (req.memoryBytes % MIB !== 0) throw badInput(`invalid memory ${req.memoryBytes} bytes: must be a whole number of MiB`);
  if (req.bridge !== undefined && req.noNetwork) throw badInput('--bridge and --no-network cannot be used together');
  const vg = host.vg;
  if (!vg) throw notFound(`volume group ${config.storage.vg} not found`);
  if (req.diskBytes % vg.extentBytes !== 0) {
    throw badInput(`invalid disk size ${formatSize(req.diskBytes)}: must be a multiple of ${formatSize(vg.extentBytes)} (the extent size of ${vg.name})`);
  }

  const existingDomain = host.domains.find((d) => d.name === names.domain);
  const existingLv = host.lvs.find((l) => l.name === names.lv);
  const unfinished = existingLv?.tags.includes(TAG_CREATING) ?? false;
  if (existingDomain && !unfinished) throw conflict(`VM ${names.domain} already exists`);
  if (existingLv && !unfinished) {
    throw conflict(`logical volume ${vg.name}/${names.lv} already exists without a finished VM (an interrupted destroy? run: raptor vm destroy ${names.domain})`);
  }
  if (req.image && req.image.virtualSize > req.diskBytes) {
    throw badInput(`image ${escapeControls(req.image.path, { keepNewlines: false })} is ${formatSize(req.image.virtualSize)}, larger than the ${formatSize(req.diskBytes)} disk`);
  }
  if (existingLv && existingLv.sizeBytes !== req.diskBytes) {
    throw conflict(`an unfinished create of ${names.domain} left ${vg.name}/${names.lv} with ${formatSize(existingLv.sizeBytes)}, not ${formatSize(req.diskBytes)}: rerun it with --disk ${existingLv.sizeBytes}b or run raptor vm destroy ${names.domain}`);
  }

  if (!existingDomain && !existingLv && !req.ignoreQuota) {
    const use = usageByUser(usageSource(host)).get(req.vm.user) ?? noUsage();
    checkQuota(req.vm.user, quotaFor(config, req.vm.user), use, { vms: 1, vcpus: req.cpus, memoryBytes: req.memoryBytes, diskBytes: req.diskBytes });
  }
  let spec: DomainSpec;
  if (existingDomain) {
    // A crashed create already defined the domain: keep its allocation, finish the rest.
    const p = existingDomain.parsed;
    const net = p.interfaces[0];
    spec = {
      name: names.domain,
      uuid: p.uuid,
      type: config.domain_type,
      memoryMiB: p.memoryMiB,
      vcpuPins: p.vcpuPins,
      emulatorSet: p.emulatorSet,
      machine: p.machine,
      firmware: { code: config.firmware.code, vars: config.firmware.vars, nvram: names.nvram },
      disk: { path: names.lvPath },
      seed: p.seed,
      network: net ? { bridge: net.bridge, mac: net.mac } : null,
      console: p.console ?? config.console,
      consoleLog: names.consoleLog,
      metadata: { owner: req.vm.user, bridge: net?.bridge ?? null, createdAt: p.metadata?.createdAt ?? now.toISOString(), ...madeFrom(p.metadata ?? {}), ...(p.metadata?.expires ? { expires: p.metadata.expires } : {}) },
    };
  } else {
    const bridge = req.noNetwork ? null : allocateBridge(config.bridges, bridgesInUse(host), req.bridge);
    const fit = existingLv ? { ok: true as const } : fitsInVg(vg, req.diskBytes);
    if (!fit.ok) throw conflict(fit.reason);
    const reserved = parseCpuList(config.cpus.reserved, 'cpus.reserved');
    const cpu = allocateCpus({ hostCpus: host.hostCpus, reserved, pinned: cpusPinned(host) }, req.cpus, config.cpus.emulator);
    spec = {
      name: names.domain,
      uuid: req.uuid,
      type: config.domain_type,
      memoryMiB: req.memoryBytes / MIB,
      vcpuPins: cpu.vcpuPins,
      emulatorSet: cpu.emulatorSet,
      machine: config.machine,
      firmware: { code: config.firmware.code, vars: config.firmware.vars, nvram: names.nvram },
      disk: { path: names.lvPath },
      seed: req.cloudInit ? names.seed : null,
      network: bridge ? { bridge: bridge.name, mac: bridge.mac } : null,
      console: config.console,
      consoleLog: names.consoleLog,
      metadata: { owner: req.vm.user, bridge: bridge?.name ?? null, createdAt: now.toISOString(), ...madeFrom(req.madeFrom ?? {}), ...(req.expires ? { expires: req.expires } : {}) },
    };
  }
  const xml = renderDomainXml(spec);
  const steps: Step[] = [];
  if (!existingLv) steps.push({ kind: 'lv-create', vg: vg.name, lv: names.lv, sizeBytes: req.diskBytes, tags: [TAG_CREATING] });
  // the image goes on before the domain exists, so it is never written under a running guest
  if (req.image && !existingDomain) {
    steps.push({ kind: 'image-write', image: req.image.path, format: req.image.format, target: names.lvPath, sizeBytes: req.image.virtualSize });
  }
  // the seed exists before the domain that names it; a resumed create rewrites a missing one
  const seedPresent = host.seeds?.includes(names.seed) ?? false;
  if (spec.seed === names.seed && req.cloudInit && !(existingDomain && seedPresent)) {
    steps.push({ kind: 'seed-write', path: spec.seed, ...req.cloudInit(spec.uuid, spec.console) });
  }
  if (!existingDomain) steps.push({ kind: 'domain-define', domain: names.domain, xml });
  const dns = planDnsAdd(config, names.domain, names.fqdn, spec.network?.bridge, host.dns, Boolean(req.force));
  if (dns.step) steps.push(dns.step);
  if (req.start && existingDomain?.state !== 'running') steps.push({ kind: 'domain-start', domain: names.domain });
  steps.push({ kind: 'lv-untag', vg: vg.name, lv: names.lv, tag: TAG_CREATING });
  return { vm: req.vm, names, spec, xml, steps, resumed: Boolean(existingLv), ...(dns.questions ? { dnsQuestions: dns.questions } : {}) };
}

const madeFrom = (m: { image?: string | undefined; flavor?: string | undefined }) => ({
  ...(m.image !== undefined ? { image: m.image } : {}),
  ...(m.flavor !== undefined ? { flavor: m.flavor } : {}),
});

export { vmAddressing } from './dns-steps.ts';

export interface DestroyPlan {
  vm: VmId;
  names: ReturnType<typeof artifactNames>;
  steps: Step[];
  /** as CreatePlan's */
  dnsQuestions?: DnsQuestions;
}

/** What destroy observes beyond HostState, about this VM only. */
export interface DestroyFacts {
  /** libvirt's persistent flag (false: a transient domain, e.g. left running by an interrupted destroy) */
  persistent?: boolean;
  /** the NVRAM file exists */
  nvramExists?: boolean;
  /** who holds the LV's block device */
  volumeUse?: VolumeUse;
  /** the LV has no device node (not active): it could not be wiped */
  deviceMissing?: boolean;
}

/**
 * Destroy, in an order the owner cannot break: every refusal first; then DNS (the domain still
 * says which bridge, so a rerun can always find it); then undefine with the NVRAM, so nothing is
 * left to start; then stop what still runs (now transient); then wipe and remove the LV.
 */
export function planDestroy(config: Config, vm: VmId, host: HostState, shutdownTimeoutS: number, facts: DestroyFacts = {}): DestroyPlan {
  const names = namesFor(config, vm);
  const domain = host.domains.find((d) => d.name === names.domain);
  const lv = host.lvs.find((l) => l.name === names.lv);
  const seed = host.seeds?.includes(names.seed) ?? false;
  if (!domain && !lv && !seed) throw notFound(`VM ${names.domain} not found (no domain, no logical volume ${config.storage.vg}/${names.lv})`);
  if (lv) refuseHeldVolume(host, names.domain, names.lvPath, lv, facts.volumeUse);
  if (lv && facts.deviceMissing && !lv.tags.includes(TAG_WIPED)) {
    throw conflict(`refusing to destroy ${names.domain}: ${names.lvPath} does not exist, so it cannot be wiped (activate it first: lvchange -ay ${lv.vg}/${lv.name})`);
  }
  const steps: Step[] = [];
  const dns = domain ? planDnsRemove(config, names.domain, names.fqdn, domain.parsed.interfaces[0]?.bridge, host.dns) : {};
  if (dns.step) steps.push(dns.step);
  if ((domain && facts.persistent !== false) || facts.nvramExists) steps.push({ kind: 'domain-undefine', domain: names.domain, nvram: names.nvram });
  // even a domain seen shut off: its owner may start it until the undefine
  if (domain) steps.push({ kind: 'domain-stop', domain: names.domain, timeoutS: shutdownTimeoutS });
  // after undefine and stop: no definition names the seed any more, and no guest has it open
  if (seed) steps.push({ kind: 'seed-remove', path: names.seed });
  if (lv) {
    if (!lv.tags.includes(TAG_WIPED)) steps.push({ kind: 'lv-wipe', vg: lv.vg, lv: lv.name, path: names.lvPath, sizeBytes: lv.sizeBytes });
    steps.push({ kind: 'lv-remove', vg: lv.vg, lv: lv.name });
  }
  return { vm, names, steps, ...(dns.questions ? { dnsQuestions: dns.questions } : {}) };
}

/** Refuse (before any change) an LV that anything but this VM's own qemu holds or uses. */
function refuseHeldVolume(host: HostState, domain: string, path: string, lv: LogicalVolume, use: VolumeUse | undefined): void {
  // Another domain using this LV (hand-made, say) would have its disk zeroed under it.
  const users = host.domains.filter((d) => d.name !== domain && d.parsed.disks.some((k) => k.path === path));
  if (users.length) throw conflict(`refusing to wipe ${path}: it is a disk of domain ${users.map((u) => u.name).join(', ')}`);
  if (!use) return;
  if (use.unreadable.length) {
    throw notAllowed(`cannot tell whether ${path} is open: the open files of ${use.unreadable.length} processes (e.g. pid ${use.unreadable[0]}) are unreadable; run as root`);
  }
  const others = use.holders.filter((h) => !(h.kind === 'process' && h.ownQemu));
  if (others.length) throw conflict(`refusing to wipe ${path}: the device is open: ${describeHolders(others)}`);
  // LVM counts every opener, kernel ones too; with nothing found to explain it, refuse as well
  if (lv.open && use.holders.length === 0) throw conflict(`refusing to wipe ${path}: LVM reports it open, and no process or kernel holder was found`);
}
