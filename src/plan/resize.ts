// The pure resize planner: disk (grow only), memory, CPUs of one VM, checked against capacity and
// quota before any step runs.
import type { Config } from '../core/config.ts';
import { allocateCpus, formatCpuList, parseCpuList } from '../core/cpus.ts';
import { badInput, conflict, notFound } from '../core/errors.ts';
import type { VmId } from '../core/naming.ts';
import { checkQuota, quotaFor, usageByUser, noUsage, type Usage } from '../core/quota.ts';
import { usageSource } from './usage.ts';
import { formatSize } from '../core/size.ts';
import { diskTargetOf, editDomainXml, hasBalloon, type DomainEdit } from '../libvirt/domain-resize.ts';
import type { ParsedDomain } from '../libvirt/domain-xml.ts';
import { cpusPinned, namesFor, type HostState } from './planner.ts';
import type { Step } from './steps.ts';
import { fitsExtension } from '../storage/capacity.ts';

const MIB = 2 ** 20;

export interface ResizeRequest {
  vm: VmId;
  /** relative: `+SIZE`, added to the current size */
  disk?: { bytes: number; relative: boolean };
  memoryBytes?: number;
  cpus?: number;
  ignoreQuota?: boolean;
}

/** The VM being resized, as libvirt has it now. */
export interface ResizeTarget {
  state: string;
  liveXml: string;
  live: ParsedDomain;
  inactiveXml: string;
  inactive: ParsedDomain;
}

export interface ResizePlan {
  vm: VmId;
  domain: string;
  steps: Step[];
  /** the persistent definition after the resize, when it changes */
  xml: string | null;
  /** what the user should know: what takes effect when */
  notes: string[];
  after: { diskBytes: number | null; memoryMiB: number; vcpus: number; cpuset: number[]; emulatorCpuset: number[] };
}

function checkQuotaUnless(req: ResizeRequest, config: Config, host: HostState, more: Usage): void {
  if (req.ignoreQuota) return;
  const use = usageByUser(usageSource(host)).get(req.vm.user) ?? noUsage();
  checkQuota(req.vm.user, quotaFor(config, req.vm.user), use, more);
}

export function planResize(config: Config, req: ResizeRequest, host: HostState, target: ResizeTarget): ResizePlan {
  const names = namesFor(config, req.vm);
  if (req.disk === undefined && req.memoryBytes === undefined && req.cpus === undefined) {
    throw badInput('nothing to resize: give --disk, --memory and/or --cpus');
  }
  const cur = target.inactive;
  const active = target.state !== 'shut off';
  const running = target.state === 'running';
  const steps: Step[] = [];
  const notes: string[] = [];
  const edit: DomainEdit = {};
  const changes: string[] = [];
  const more = noUsage();

  // ---- disk: only grows ----
  let diskBytes: number | null = null;
  let lvStep: Extract<Step, { kind: 'lv-extend' }> | undefined;
  const lv = host.lvs.find((l) => l.name === names.lv);
  if (req.disk !== undefined) {
    const vg = host.vg;
    if (!vg) throw notFound(`volume group ${config.storage.vg} not found`);
    if (!lv) throw notFound(`VM ${names.domain} has no logical volume ${vg.name}/${names.lv}`);
    const want = req.disk.relative ? lv.sizeBytes + req.disk.bytes : req.disk.bytes;
    if (want < lv.sizeBytes) {
      throw badInput(`disks only grow: ${names.lvPath} is ${formatSize(lv.sizeBytes)}, ${formatSize(want)} asked (shrinking would cut off the guest's file systems)`);
    }
    if (want % vg.extentBytes !== 0) {
      throw badInput(`invalid disk size ${formatSize(want)}: must be a multiple of ${formatSize(vg.extentBytes)} (the extent size of ${vg.name})`);
    }
    diskBytes = want;
    if (want === lv.sizeBytes) notes.push(`disk: already ${formatSize(want)}, unchanged`);
    else {
      more.diskBytes = want - lv.sizeBytes;
      // policy before capacity; then the VG's allocation policy decides where the extents may come from
      checkQuotaUnless(req, config, host, more);
      const fit = fitsExtension(vg, names.lv, want - lv.sizeBytes);
      if (!fit.ok) throw conflict(fit.reason);
      lvStep = { kind: 'lv-extend', vg: vg.name, lv: names.lv, fromBytes: lv.sizeBytes, toBytes: want };
      notes.push(
        active
          ? `disk: ${formatSize(want)}, seen by the running guest now; grow its partition and file system inside the guest (a cloud-init guest grows its root partition on the next boot)`
          : `disk: ${formatSize(want)} from the next start (a cloud-init guest grows its root partition then)`,
      );
    }
  } else if (lv) diskBytes = lv.sizeBytes;

  // ---- memory: the persistent definition; live where a balloon allows it ----
  let memoryMiB = cur.memoryMiB;
  if (req.memoryBytes !== undefined) {
    if (req.memoryBytes % MIB !== 0) throw badInput(`invalid memory ${req.memoryBytes} bytes: must be a whole number of MiB`);
    const mib = req.memoryBytes / MIB;
    memoryMiB = mib;
    if (mib === cur.memoryMiB) notes.push(`memory: already ${mib} MiB, unchanged`);
    else {
      more.memoryBytes = Math.max(0, (mib - cur.memoryMiB) * MIB);
      edit.memoryMiB = mib;
      changes.push(`memory ${mib} MiB`);
      if (running && hasBalloon(target.liveXml) && mib <= target.live.memoryMiB) {
        notes.push(`memory: ${mib} MiB now (balloon) and from the next boot`);
      } else if (running) {
        const why = hasBalloon(target.liveXml) ? `above the ${target.live.memoryMiB} MiB it booted with` : 'the domain has no memory balloon';
        notes.push(`memory: ${mib} MiB from the next boot (not live: ${why})`);
      } else notes.push(`memory: ${mib} MiB from the next start`);
    }
  }

  // ---- CPUs: allocated again, exclusive, as for create ----
  let vcpuPins = cur.vcpuPins;
  let emulatorSet = cur.emulatorSet;
  if (req.cpus !== undefined) {
    const reserved = parseCpuList(config.cpus.reserved, 'cpus.reserved');
    // every other domain's CPUs, running and pending (a resized, not yet rebooted VM holds both)
    const others = cpusPinned(host, names.domain);
    const own = new Set(cur.vcpuPins);
    const ownOk = cur.vcpuPins.length === req.cpus && cur.vcpuPins.every((c) => !others.includes(c) && !reserved.includes(c) && host.hostCpus.includes(c)) && own.size === req.cpus;
    if (ownOk) notes.push(`CPUs: already ${req.cpus} on ${formatCpuList(cur.vcpuPins)}, unchanged`);
    else {
      more.vcpus = Math.max(0, req.cpus - cur.vcpus);
      // policy before capacity, as for create: the quota names what the user may have
      checkQuotaUnless(req, config, host, more);
      const alloc = allocateCpus({ hostCpus: host.hostCpus, reserved, pinned: others }, req.cpus, config.cpus.emulator);
      vcpuPins = alloc.vcpuPins;
      emulatorSet = alloc.emulatorSet;
      edit.vcpuPins = alloc.vcpuPins;
      edit.emulatorSet = alloc.emulatorSet;
      changes.push(`${req.cpus} vCPUs on host CPUs ${formatCpuList(alloc.vcpuPins)} (emulator ${formatCpuList(alloc.emulatorSet)})`);
      notes.push(`CPUs: ${req.cpus} on host CPUs ${formatCpuList(alloc.vcpuPins)} from the next ${active ? 'boot (raptor vm show says so until then)' : 'start'}`);
    }
  }

  checkQuotaUnless(req, config, host, more);

  let xml: string | null = null;
  if (changes.length) {
    xml = editDomainXml(target.inactiveXml, edit);
    steps.push({ kind: 'domain-redefine', domain: names.domain, xml, previousXml: target.inactiveXml, changes });
    if (edit.memoryMiB !== undefined && running && hasBalloon(target.liveXml) && edit.memoryMiB <= target.live.memoryMiB) {
      steps.push({ kind: 'domain-setmem', domain: names.domain, memoryMiB: edit.memoryMiB, previousMiB: target.live.memoryMiB });
    }
  }
  // the volume last: undoing it is only safe while no guest has been told about the new space
  if (lvStep) {
    steps.push(lvStep);
    if (active) {
      const dev = diskTargetOf(target.liveXml, names.lvPath);
      if (!dev) throw conflict(`the running ${names.domain} has no disk ${names.lvPath}: cannot tell it about the new size`);
      steps.push({ kind: 'domain-blockresize', domain: names.domain, target: dev, sizeBytes: lvStep.toBytes });
    }
  }
  return {
    vm: req.vm,
    domain: names.domain,
    steps,
    xml,
    notes,
    after: { diskBytes, memoryMiB, vcpus: vcpuPins.length, cpuset: vcpuPins, emulatorCpuset: emulatorSet },
  };
}
