// Observe the host read-only: domains (one virsh process for all their XML), LVM, host CPUs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../core/config.ts';
import { parseCpuList } from '../core/cpus.ts';
import { parseDomainXml } from '../libvirt/domain-xml.ts';
import type { Virsh } from '../libvirt/virsh.ts';
import type { Lvm } from '../storage/lvm.ts';
import type { HostState, ObservedDomain } from './planner.ts';

export function hostCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'), 'online CPUs');
}

export async function observeDomains(virsh: Virsh): Promise<ObservedDomain[]> {
  return virsh.listWithXml(parseDomainXml);
}

/** The seed images in the seed directory (none when it does not exist yet). */
export function observeSeeds(seedDir: string): string[] {
  try {
    return readdirSync(seedDir).filter((f) => f.endsWith('-cidata.img')).map((f) => join(seedDir, f));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function observeHost(config: Config, virsh: Virsh, lvm: Lvm): Promise<HostState> {
  const [domains, { vg, lvs }] = await Promise.all([observeDomains(virsh), lvm.observe(config.storage.vg)]);
  return { hostCpus: hostCpus(), domains, vg, lvs, seeds: observeSeeds(config.seed_dir) };
}
