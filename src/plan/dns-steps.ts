// The DNS part of create and destroy plans, pure: from the server's observed answers to the exact
// UPDATEs a step sends. The records of a VM are worked out here and nowhere else on these paths.
import type { Config } from '../core/config.ts';
import { planAdd, planRemove, queriesForVm, refuseUnservedZones, vmRecords, zonesOfRecords, type DnsAnswers, type RRsetRef, type VmAddressing, type VmRecordSet } from '../dns/records.ts';
import type { Step } from './steps.ts';

/** What the planner needs the DNS server asked before it can plan a VM's records. */
export interface DnsQuestions {
  /** SOA queries: is the server authoritative for each? */
  zones: string[];
  /** the RRsets to query (only in served zones) */
  refs: RRsetRef[];
}

/** The addresses DNS should publish for a VM on `bridge`: the bridge's fixed DHCP addresses. */
export function vmAddressing(config: Config, domain: string, fqdn: string, bridge: string | undefined): VmAddressing | undefined {
  const b = bridge === undefined ? undefined : config.bridges.find((x) => x.name === bridge);
  if (!b || (b.ipv4 === undefined && b.ipv6 === undefined)) return undefined;
  return { vmId: domain, fqdn, ipv4: b.ipv4, ipv6: b.ipv6 };
}

function recordsFor(config: Config, domain: string, fqdn: string, bridge: string | undefined): { vm: VmAddressing; set: VmRecordSet } | undefined {
  if (!config.dns.enabled) return undefined;
  const vm = vmAddressing(config, domain, fqdn, bridge);
  return vm ? { vm, set: vmRecords(config, vm) } : undefined;
}

const questionsOf = (set: VmRecordSet): DnsQuestions => ({ zones: zonesOfRecords(set), refs: queriesForVm(set) });

const stepBase = (config: Config, vm: VmAddressing) => ({ vm, server: `${config.dns.server} ${config.dns.port}`, keyFile: config.dns.tsig_key_file });

export interface DnsStepPlan {
  step?: Extract<Step, { kind: 'dns-add' | 'dns-remove' }>;
  /** set when the plan needs answers it was not given: ask these, then plan again */
  questions?: DnsQuestions;
}

/**
 * Create's `dns-add`: the UPDATEs that put the VM's A/AAAA/PTRs in place (a conflict, exit 3,
 * without `force`; a zone not served, exit 3). No step when everything is already in place.
 */
export function planDnsAdd(config: Config, domain: string, fqdn: string, bridge: string | undefined, answers: DnsAnswers | undefined, force: boolean): DnsStepPlan {
  const r = recordsFor(config, domain, fqdn, bridge);
  if (!r) return {};
  if (!answers) return { questions: questionsOf(r.set) };
  refuseUnservedZones(r.set, answers);
  const { updates, undo } = planAdd(r.set, answers.observed, { force });
  if (!updates.length) return {};
  return { step: { kind: 'dns-add', ...stepBase(config, r.vm), force, ttl: r.set.ttl, updates, undo } };
}

/** Destroy's `dns-remove`: delete exactly the VM's records that are there; no step when none is. */
export function planDnsRemove(config: Config, domain: string, fqdn: string, bridge: string | undefined, answers: DnsAnswers | undefined): DnsStepPlan {
  const r = recordsFor(config, domain, fqdn, bridge);
  if (!r) return {};
  if (!answers) return { questions: questionsOf(r.set) };
  refuseUnservedZones(r.set, answers);
  const updates = planRemove(r.set, answers.observed);
  if (!updates.length) return {};
  return { step: { kind: 'dns-remove', ...stepBase(config, r.vm), ttl: r.set.ttl, updates } };
}
