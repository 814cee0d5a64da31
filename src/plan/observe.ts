// Observe the host read-only: domains (one virsh process for all their XML), LVM, host CPUs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../core/config.ts';
import { parseCpuList } from '../core/cpus.ts';
import { parseDomainXml, type ParsedDomain } from '../libvirt/domain-xml.ts';
import { virshQuote, type Virsh } from '../libvirt/virsh.ts';
import type { Lvm } from '../storage/lvm.ts';
import type { HostState, ObservedDomain } from './planner.ts';

export function hostCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'), 'online CPUs');
}

export async function observeDomains(virsh: Virsh): Promise<ObservedDomain[]> {
  return virsh.listWithXml(parseDomainXml);
}

const MARK = '@@raptor-inactive@@';

/**
 * The persistent definitions of running domains, in one virsh process: a resize pending for the
 * next boot holds those CPUs too. Domains gone meanwhile are left out.
 */
export async function observeInactive(virsh: Virsh, names: string[]): Promise<Map<string, ParsedDomain>> {
  const out = new Map<string, ParsedDomain>();
  if (!names.length) return out;
  const script = names.map((n) => `dumpxml --inactive ${virshQuote(n)}`).join(` ; echo ${MARK} ; `);
  let parts: string[];
  try {
    parts = (await virsh.exec([script])).split(MARK);
  } catch {
    // one domain vanished: ask each alone
    parts = await Promise.all(names.map((n) => virsh.dumpXml(n, true).catch(() => '')));
  }
  names.forEach((n, i) => {
    const xml = parts[i] ?? '';
    if (xml.includes('<domain')) out.set(n, parseDomainXml(xml.slice(xml.indexOf('<domain'))));
  });
  return out;
}

/** Domains with the persistent definition of each running one. */
export async function observeDomainsWithInactive(virsh: Virsh): Promise<ObservedDomain[]> {
  const domains = await observeDomains(virsh);
  const inactive = await observeInactive(virsh, domains.filter((d) => d.state !== 'shut off').map((d) => d.name));
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

export async function observeHost(config: Config, virsh: Virsh, lvm: Lvm): Promise<HostState> {
  const [domains, { vg, lvs }] = await Promise.all([observeDomainsWithInactive(virsh), lvm.observe(config.storage.vg)]);
  return { hostCpus: hostCpus(), domains, vg, lvs, seeds: observeSeeds(config.seed_dir) };
}
