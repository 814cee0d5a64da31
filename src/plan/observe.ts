// Observe the host read-only: domains (one virsh process for all their XML), LVM, host CPUs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../core/config.ts';
import { parseCpuList } from '../core/cpus.ts';
import { parseDomainXml, type ParsedDomain } from '../libvirt/domain-xml.ts';
import type { Hypervisor } from '../libvirt/hypervisor.ts';
import type { Volumes } from '../storage/volumes.ts';
import type { HostState, ObservedDomain } from './planner.ts';

export function hostCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'), 'online CPUs');
}

export async function observeDomains(hv: Hypervisor): Promise<ObservedDomain[]> {
  return hv.listWithXml(parseDomainXml);
}

/**
 * The persistent definitions of running domains, in one virsh process: a resize pending for the
 * next boot holds those CPUs too. Domains gone meanwhile are left out.
 */
export async function observeInactive(hv: Hypervisor, names: string[]): Promise<Map<string, ParsedDomain>> {
  const xml = await hv.dumpXmls(names, { inactive: true });
  return new Map([...xml].map(([n, x]) => [n, parseDomainXml(x)]));
}

/** Domains with the persistent definition of each running one. */
export async function observeDomainsWithInactive(hv: Hypervisor): Promise<ObservedDomain[]> {
  const domains = await observeDomains(hv);
  const inactive = await observeInactive(hv, domains.filter((d) => d.state !== 'shut off').map((d) => d.name));
  return domains.map((d) => (inactive.has(d.name) ? { ...d, inactive: inactive.get(d.name)! } : d));
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

export async function observeHost(config: Config, hv: Hypervisor, volumes: Volumes): Promise<HostState> {
  const [domains, { vg, lvs }] = await Promise.all([observeDomainsWithInactive(hv), volumes.observe(config.storage.vg)]);
  return { hostCpus: hostCpus(), domains, vg, lvs, seeds: observeSeeds(config.seed_dir) };
}
