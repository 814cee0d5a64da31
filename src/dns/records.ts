// Record planning for VMs: which RRsets a VM should have, and the RFC 2136 updates that get the
// server there without clobbering data raptor did not write. Pure: values in, values out.
import type { Config } from '../core/config.ts';
import { badInput, conflict, RaptorError } from '../core/errors.ts';
import { canonicalAddress, isInZone, normalizeName, reverseName, typeName, type Rdata, type UpdateRequest } from './wire.ts';

export type RecordType = 'A' | 'AAAA' | 'PTR';
/** CNAME is observed (it blocks A/AAAA at a name) but never written. */
export type ObservedType = RecordType | 'CNAME';

/** What raptor knows about a VM's addressing; fqdn comes from the naming authority. */
export interface VmAddressing {
  vmId: string;
  fqdn: string;
  ipv4?: string | undefined;
  ipv6?: string | undefined;
}

/** One RRset raptor owns: its values are canonical addresses (A/AAAA) or FQDNs without the trailing dot (PTR). */
export interface DesiredRRset {
  zone: string;
  name: string;
  type: RecordType;
  values: string[];
}

export interface VmRecordSet {
  vmId: string;
  fqdn: string;
  ttl: number;
  rrsets: DesiredRRset[];
}

export interface RRsetRef {
  name: string;
  type: ObservedType;
}

export type DnsConfig = Pick<Config, 'dns'>;

const refKey = (name: string, type: ObservedType) => `${normalizeName(name)} ${type}`;

/** What the server answered, per (name, type) that was queried. Values normalized like DesiredRRset. */
export class Observation {
  readonly #sets = new Map<string, string[]>();

  set(name: string, type: ObservedType, values: string[]): this {
    this.#sets.set(refKey(name, type), normalizeValues(type, values));
    return this;
  }

  has(name: string, type: ObservedType): boolean {
    return this.#sets.has(refKey(name, type));
  }

  /** The observed values; a (name, type) that was never queried is a planning bug, not "empty". */
  get(name: string, type: ObservedType): string[] {
    const v = this.#sets.get(refKey(name, type));
    if (v === undefined) throw new RaptorError('unexpected', `DNS planning: ${normalizeName(name)} ${type} was not observed`);
    return v;
  }

  entries(): { name: string; type: ObservedType; values: string[] }[] {
    return [...this.#sets].map(([k, values]) => {
      const [name, type] = k.split(' ') as [string, ObservedType];
      return { name, type, values };
    });
  }
}

function normalizeValues(type: ObservedType, values: string[]): string[] {
  const norm = values.map((v) => (type === 'A' || type === 'AAAA' ? canonicalAddress(v) : normalizeName(v)));
  return [...new Set(norm)].sort();
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

// ---------------------------------------------------------------- desired records

const isV6 = (address: string) => address.includes(':');

/**
 * The reverse zone holding the PTR of `address`: the longest configured zone that contains its
 * reverse name. With no configured zone of the address's family, the derived one: the /24 for
 * IPv4 (100.51.198.in-addr.arpa) and the /32 for IPv6 (8 nibbles: 8.b.d.0.1.0.0.2.ip6.arpa).
 */
export function reverseZoneFor(address: string, reverseZones: readonly string[]): string {
  const name = reverseName(address);
  const suffix = isV6(address) ? 'ip6.arpa' : 'in-addr.arpa';
  const family = reverseZones.map(normalizeName).filter((z) => isInZone(z, suffix));
  if (family.length === 0) {
    const labels = name.split('.');
    const keep = isV6(address) ? 8 : 3;
    return labels.slice(labels.length - 2 - keep).join('.');
  }
  const holding = family.filter((z) => isInZone(name, z)).sort((a, b) => b.length - a.length);
  if (holding.length === 0) throw badInput(`dns.reverse_zones: none of ${family.join(', ')} holds ${name}, the PTR name of ${address}`);
  return holding[0]!;
}

/**
 * The RRsets a VM should have: A and AAAA at its FQDN (an empty set for a family it has no address
 * in, so stray data there is noticed) and a PTR naming the FQDN for each address. A VM without
 * any address (no network) has no records.
 */
export function vmRecords(config: DnsConfig, vm: VmAddressing): VmRecordSet {
  const zone = normalizeName(config.dns.zone);
  const fqdn = normalizeName(vm.fqdn);
  if (!isInZone(fqdn, zone) || fqdn === zone) throw badInput(`DNS: ${vm.fqdn} is not a name in zone ${zone}`);
  const set: VmRecordSet = { vmId: vm.vmId, fqdn, ttl: config.dns.ttl, rrsets: [] };
  const ipv4 = vm.ipv4 === undefined ? undefined : canonicalAddress(vm.ipv4);
  const ipv6 = vm.ipv6 === undefined ? undefined : canonicalAddress(vm.ipv6);
  if (ipv4 !== undefined && isV6(ipv4)) throw badInput(`DNS: ${vm.vmId}: ipv4 ${vm.ipv4} is an IPv6 address`);
  if (ipv6 !== undefined && !isV6(ipv6)) throw badInput(`DNS: ${vm.vmId}: ipv6 ${vm.ipv6} is an IPv4 address`);
  if (ipv4 === undefined && ipv6 === undefined) return set;
  set.rrsets.push({ zone, name: fqdn, type: 'A', values: ipv4 ? [ipv4] : [] });
  set.rrsets.push({ zone, name: fqdn, type: 'AAAA', values: ipv6 ? [ipv6] : [] });
  for (const address of [ipv4, ipv6]) {
    if (address === undefined) continue;
    set.rrsets.push({ zone: reverseZoneFor(address, config.dns.reverse_zones), name: reverseName(address), type: 'PTR', values: [fqdn] });
  }
  return set;
}

/** Flat list of the records of a set, for display: `name type value`. */
export function recordLines(set: VmRecordSet): string[] {
  return set.rrsets.flatMap((r) => r.values.map((v) => `${r.name}. ${set.ttl} IN ${r.type} ${r.type === 'PTR' ? `${v}.` : v}`));
}

// ---------------------------------------------------------------- what to observe

/** What the server answered before a VM's records change: the zones it does not serve, and the RRsets. */
export interface DnsAnswers {
  /** the server, as the error messages name it (host:port) */
  endpoint: string;
  /** of the zones asked about, those with no SOA at the server (their RRsets were not queried) */
  unserved: string[];
  observed: Observation;
}

/** The zones of a VM's records, forward first, each once. */
export function zonesOfRecords(set: VmRecordSet): string[] {
  return [...new Set(set.rrsets.map((r) => r.zone))];
}

/** A zone the server does not serve: a configuration conflict (exit 3), before any change. */
export const zoneNotServed = (zone: string, endpoint: string): RaptorError =>
  conflict(`DNS zone ${zone} is not served by ${endpoint} (no SOA for it there); nothing changed`);

/** Refuse when any zone of `set` is not served (the first, in the set's zone order). */
export function refuseUnservedZones(set: VmRecordSet, answers: DnsAnswers): void {
  const zone = zonesOfRecords(set).find((z) => answers.unserved.includes(z));
  if (zone !== undefined) throw zoneNotServed(zone, answers.endpoint);
}

/** The RRsets to query before adding or removing a VM's records: one query per RRset (≤ 4). */
export function queriesForVm(set: VmRecordSet): RRsetRef[] {
  return set.rrsets.map((r) => ({ name: r.name, type: r.type }));
}

/**
 * First round of `dns sync` observation: every VM's RRsets and the PTR at the reverse name of
 * every configured bridge address (2 per VM + 1 per address + 2 per bridge).
 */
export function syncQueries(config: Pick<Config, 'bridges'>, desired: VmRecordSet[]): RRsetRef[] {
  const refs = new Map<string, RRsetRef>();
  const add = (name: string, type: ObservedType) => refs.set(refKey(name, type), { name: normalizeName(name), type });
  for (const set of desired) for (const r of set.rrsets) add(r.name, r.type);
  for (const address of bridgeAddresses(config)) add(reverseName(address), 'PTR');
  return [...refs.values()];
}

/** Second round: the A or AAAA of each FQDN in the zone that a bridge address's PTR names but no VM owns. */
export function syncFollowUpQueries(config: DnsConfig & Pick<Config, 'bridges'>, desired: VmRecordSet[], observed: Observation): RRsetRef[] {
  return staleCandidates(config, desired, observed).flatMap((c) => c.orphans.map((name) => ({ name, type: c.forwardType })));
}

export function bridgeAddresses(config: Pick<Config, 'bridges'>): string[] {
  const out: string[] = [];
  for (const b of config.bridges) for (const a of [b.ipv4, b.ipv6]) if (a !== undefined) out.push(canonicalAddress(a));
  return [...new Set(out)];
}

// ---------------------------------------------------------------- updates

/** One UPDATE for one zone, and what the zone must look like afterwards (checked by reading back). */
export interface ZoneUpdate {
  zone: string;
  request: UpdateRequest;
  expect: ExpectedRRset[];
}

/** After the update, the RRset equals `equals` (when given) and holds none of `lacks`. */
export interface ExpectedRRset {
  name: string;
  type: RecordType;
  equals?: string[];
  lacks?: string[];
}

/** A change to one zone, described so that it can be turned into an UPDATE later. */
interface Change {
  zone: string;
  prerequisite?: UpdateRequest['prerequisites'][number];
  deletes: UpdateRequest['deletes'];
  adds: UpdateRequest['adds'];
  expect: ExpectedRRset;
}

export function rdataFor(type: RecordType, value: string): Rdata {
  return type === 'PTR' ? { type: 'PTR', target: value } : { type, address: value };
}

const TYPE_NUMBER: Record<ObservedType, number> = { A: 1, AAAA: 28, PTR: 12, CNAME: 5 };

function groupByZone(changes: Change[]): ZoneUpdate[] {
  const zones = new Map<string, ZoneUpdate>();
  for (const c of changes) {
    let z = zones.get(c.zone);
    if (!z) {
      z = { zone: c.zone, request: { prerequisites: [], deletes: [], adds: [] }, expect: [] };
      zones.set(c.zone, z);
    }
    if (c.prerequisite) z.request.prerequisites.push(c.prerequisite);
    z.request.deletes.push(...c.deletes);
    z.request.adds.push(...c.adds);
    z.expect.push(c.expect);
  }
  return [...zones.values()].filter((z) => z.request.deletes.length + z.request.adds.length > 0);
}

export interface AddPlan {
  /** the UPDATEs, forward zone first; empty when everything is already in place */
  updates: ZoneUpdate[];
  /** UPDATEs that put back what `updates` changed, for undo (reverse order of zones) */
  undo: ZoneUpdate[];
}

/**
 * Add a VM's records. An RRset that is already right is left alone (a rerun converges). One that
 * holds other data, or a CNAME at the FQDN, is a conflict unless `force`, which replaces it. Each
 * change carries a prerequisite pinning what was observed, so a concurrent edit makes the
 * UPDATE fail instead of being overwritten.
 */
export function planAdd(set: VmRecordSet, observed: Observation, opts: { force?: boolean } = {}): AddPlan {
  const changes: Change[] = [];
  const undo: Change[] = [];
  const conflicts: string[] = [];
  const fwd = set.rrsets.find((r) => r.type === 'A');
  if (fwd && observed.has(fwd.name, 'CNAME')) {
    const cname = observed.get(fwd.name, 'CNAME');
    if (cname.length > 0) {
      if (!opts.force) conflicts.push(`${fwd.name} is a CNAME for ${cname.join(', ')}`);
      else {
        changes.push({
          zone: fwd.zone,
          prerequisite: { kind: 'rrset-equals', name: fwd.name, type: TYPE_NUMBER.CNAME, rdata: cname.map((t) => ({ type: 'CNAME', target: t })) },
          deletes: [{ name: fwd.name, type: TYPE_NUMBER.CNAME }],
          adds: [],
          expect: { name: fwd.name, type: 'A', equals: fwd.values },
        });
        undo.push({ zone: fwd.zone, deletes: [], adds: cname.map((t) => ({ name: fwd.name, ttl: set.ttl, rdata: { type: 'CNAME', target: t } })), expect: { name: fwd.name, type: 'A', equals: [] } });
      }
    }
  }
  for (const r of set.rrsets) {
    const found = observed.get(r.name, r.type);
    if (sameSet(found, r.values)) continue;
    const type = TYPE_NUMBER[r.type];
    const adds = r.values.map((v) => ({ name: r.name, ttl: set.ttl, rdata: rdataFor(r.type, v) }));
    if (found.length === 0) {
      changes.push({ zone: r.zone, prerequisite: { kind: 'rrset-absent', name: r.name, type }, deletes: [], adds, expect: { name: r.name, type: r.type, equals: r.values } });
      undo.push({ zone: r.zone, deletes: r.values.map((v) => ({ name: r.name, type, rdata: rdataFor(r.type, v) })), adds: [], expect: { name: r.name, type: r.type, lacks: r.values } });
      continue;
    }
    if (!opts.force) {
      conflicts.push(`${r.name} ${r.type} holds ${found.join(', ')}${r.values.length ? ` (raptor would write ${r.values.join(', ')})` : ''}`);
      continue;
    }
    changes.push({
      zone: r.zone,
      prerequisite: { kind: 'rrset-equals', name: r.name, type, rdata: found.map((v) => rdataFor(r.type, v)) },
      deletes: [{ name: r.name, type }],
      adds,
      expect: { name: r.name, type: r.type, equals: r.values },
    });
    undo.push({
      zone: r.zone,
      deletes: [{ name: r.name, type }],
      adds: found.map((v) => ({ name: r.name, ttl: set.ttl, rdata: rdataFor(r.type, v) })),
      expect: { name: r.name, type: r.type, equals: found },
    });
  }
  if (conflicts.length > 0) {
    throw conflict(`DNS records for ${set.vmId} conflict with data raptor did not write: ${conflicts.join('; ')}; nothing changed (--force replaces them)`);
  }
  // undo runs backwards: within a zone (an A goes before its CNAME comes back) and across zones
  return { updates: groupByZone(changes), undo: groupByZone(undo.reverse()) };
}

/** Remove exactly a VM's records: one delete per RR that is there, never a whole name or RRset. */
export function planRemove(set: VmRecordSet, observed: Observation): ZoneUpdate[] {
  const changes: Change[] = [];
  for (const r of set.rrsets) {
    const found = observed.get(r.name, r.type);
    const ours = r.values.filter((v) => found.includes(v));
    if (ours.length === 0) continue;
    const type = TYPE_NUMBER[r.type];
    changes.push({ zone: r.zone, deletes: ours.map((v) => ({ name: r.name, type, rdata: rdataFor(r.type, v) })), adds: [], expect: { name: r.name, type: r.type, lacks: ours } });
  }
  return groupByZone(changes);
}

// ---------------------------------------------------------------- sync

export type SyncChange =
  /** the RRset is empty on the server; raptor adds `want` */
  | { kind: 'missing'; vmId: string; zone: string; name: string; type: RecordType; want: string[] }
  /** the RRset holds other values (a wrong address, a foreign PTR); raptor replaces it with `want` */
  | { kind: 'wrong'; vmId: string; zone: string; name: string; type: RecordType; found: string[]; want: string[] }
  /** a record of a VM that is gone or moved: its PTR at a bridge address, or its A/AAAA to that address */
  | { kind: 'stale'; zone: string; name: string; type: RecordType; value: string };

interface StaleCandidate {
  address: string;
  zone: string;
  ptrName: string;
  forwardType: 'A' | 'AAAA';
  /** in-zone FQDNs the PTR names that are not the VM holding the address now */
  targets: string[];
  /** those of `targets` that no VM has at all: their forward records are checked too */
  orphans: string[];
  /** whether a VM holds the address now (then its own diff replaces the PTR RRset) */
  held: boolean;
}

function staleCandidates(config: DnsConfig & Pick<Config, 'bridges'>, desired: VmRecordSet[], observed: Observation): StaleCandidate[] {
  const zone = normalizeName(config.dns.zone);
  const fqdns = new Set(desired.map((s) => s.fqdn));
  const desiredPtr = new Map<string, string[]>();
  for (const s of desired) for (const r of s.rrsets) if (r.type === 'PTR') desiredPtr.set(r.name, r.values);
  return bridgeAddresses(config).map((address) => {
    const ptrName = reverseName(address);
    const want = desiredPtr.get(ptrName) ?? [];
    const targets = observed.get(ptrName, 'PTR').filter((t) => isInZone(t, zone) && t !== zone && !want.includes(t));
    return {
      address,
      zone: reverseZoneFor(address, config.dns.reverse_zones),
      ptrName,
      forwardType: isV6(address) ? 'AAAA' : 'A',
      targets,
      orphans: targets.filter((t) => !fqdns.has(t)),
      held: desiredPtr.has(ptrName),
    };
  });
}

/**
 * What `dns sync` would change. Without a zone transfer, stale data is found through the bridges:
 * the PTR at each bridge address names the VM that had it; if that is not the VM holding the
 * address now, the PTR and that name's A/AAAA to the address are stale. Needs the observation of
 * `syncQueries` and then `syncFollowUpQueries`.
 */
export function diffForSync(config: DnsConfig & Pick<Config, 'bridges'>, desired: VmRecordSet[], observed: Observation): SyncChange[] {
  const changes: SyncChange[] = [];
  for (const set of desired) {
    for (const r of set.rrsets) {
      const found = observed.get(r.name, r.type);
      if (sameSet(found, r.values)) continue;
      const base = { vmId: set.vmId, zone: r.zone, name: r.name, type: r.type };
      if (found.length === 0) changes.push({ kind: 'missing', ...base, want: r.values });
      else changes.push({ kind: 'wrong', ...base, found, want: r.values });
    }
  }
  const zone = normalizeName(config.dns.zone);
  for (const c of staleCandidates(config, desired, observed)) {
    if (!c.held) for (const t of c.targets) changes.push({ kind: 'stale', zone: c.zone, name: c.ptrName, type: 'PTR', value: t });
    for (const t of c.orphans) {
      if (observed.get(t, c.forwardType).includes(c.address)) changes.push({ kind: 'stale', zone, name: t, type: c.forwardType, value: c.address });
    }
  }
  return changes;
}

/** The UPDATEs that carry out a sync diff, one per zone. */
export function planSync(changes: SyncChange[], ttl: number): ZoneUpdate[] {
  return groupByZone(
    changes.map((c): Change => {
      const type = TYPE_NUMBER[c.type];
      if (c.kind === 'stale') {
        return { zone: c.zone, deletes: [{ name: c.name, type, rdata: rdataFor(c.type, c.value) }], adds: [], expect: { name: c.name, type: c.type, lacks: [c.value] } };
      }
      const adds = c.want.map((v) => ({ name: c.name, ttl, rdata: rdataFor(c.type, v) }));
      const expect = { name: c.name, type: c.type, equals: c.want };
      if (c.kind === 'missing') return { zone: c.zone, prerequisite: { kind: 'rrset-absent', name: c.name, type }, deletes: [], adds, expect };
      return {
        zone: c.zone,
        prerequisite: { kind: 'rrset-equals', name: c.name, type, rdata: c.found.map((v) => rdataFor(c.type, v)) },
        deletes: [{ name: c.name, type }],
        adds,
        expect,
      };
    }),
  );
}

/** One line per change, for `dns sync --dry-run`. */
export function describeSyncChange(c: SyncChange): string {
  switch (c.kind) {
    case 'missing':
      return `missing  ${c.name} ${c.type} ${c.want.join(', ')} (${c.vmId})`;
    case 'wrong':
      return `wrong    ${c.name} ${c.type} ${c.found.join(', ')} -> ${c.want.length ? c.want.join(', ') : '(none)'} (${c.vmId})`;
    case 'stale':
      return `stale    ${c.name} ${c.type} ${c.value}`;
  }
}

// ---------------------------------------------------------------- the same change by hand

const rrText = (r: Rdata): string => (r.type === 'A' || r.type === 'AAAA' ? r.address : r.type === 'PTR' || r.type === 'CNAME' || r.type === 'NS' ? `${r.target}.` : r.type);

/** The nsupdate input that sends exactly these UPDATEs (`ttl` shown on deletes too, where nsupdate ignores it). */
export function nsupdateLines(updates: ZoneUpdate[], ttl: number): string[] {
  const out: string[] = [];
  for (const u of updates) {
    out.push(`zone ${u.zone}.`);
    for (const p of u.request.prerequisites) {
      if (p.kind === 'rrset-absent') out.push(`prereq nxrrset ${p.name}. IN ${typeName(p.type)}`);
      else if (p.kind === 'rrset-exists') out.push(`prereq yxrrset ${p.name}. IN ${typeName(p.type)}`);
      else if (p.kind === 'rrset-equals') for (const r of p.rdata) out.push(`prereq yxrrset ${p.name}. IN ${typeName(p.type)} ${rrText(r)}`);
      else out.push(`prereq ${p.kind === 'name-in-use' ? 'yxdomain' : 'nxdomain'} ${p.name}.`);
    }
    for (const d of u.request.deletes) out.push(d.rdata ? `update delete ${d.name}. ${ttl} IN ${typeName(d.type)} ${rrText(d.rdata)}` : `update delete ${d.name}. IN ${typeName(d.type)}`);
    for (const a of u.request.adds) out.push(`update add ${a.name}. ${a.ttl} IN ${a.rdata.type} ${rrText(a.rdata)}`);
    out.push('send');
  }
  return out;
}
