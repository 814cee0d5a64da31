// DNS for VMs: observe the server, plan (records.ts), send the UPDATEs, read them back.
import { MAX_TSIG_KEY_FILE_BYTES, readBoundedText } from '../host/files.ts';
import { escapeControls } from '../core/quote.ts';
import type { Config } from '../core/config.ts';
import { RaptorError, badInput } from '../core/errors.ts';
import { DnsClient, DnsError, type DnsTransport } from './client.ts';
import { parseKeyFile, selectKey, type TsigAlgorithm, type TsigKey } from './tsig.ts';
import { RCODE, normalizeName, rdataText, TYPE } from './wire.ts';
import {
  Observation,
  zoneNotServed,
  type DnsAnswers,
  diffForSync,
  planAdd,
  planRemove,
  planSync,
  queriesForVm,
  syncFollowUpQueries,
  syncQueries,
  vmRecords,
  type DnsConfig,
  type RRsetRef,
  type SyncChange,
  type VmAddressing,
  type VmRecordSet,
  type ZoneUpdate,
} from './records.ts';

/** Read the TSIG key from its file (never from argv or the environment). */
export async function loadTsigKey(path: string, algorithm?: TsigAlgorithm): Promise<TsigKey> {
  // not-found (4) and not-allowed (5) as before; a FIFO, device or oversized file is bad input
  const text = readBoundedText(path, 'TSIG key file', MAX_TSIG_KEY_FILE_BYTES, { missing: 'not-found', denied: 'not-allowed' });
  const source = escapeControls(path, { keepNewlines: false });
  return selectKey(parseKeyFile(text, source), source, algorithm === undefined ? {} : { algorithm });
}

/** The client for the configured server, with the configured key. */
export async function openDns(config: DnsConfig, opts: { timeoutMs?: number } = {}): Promise<DnsClient> {
  if (!config.dns.enabled) throw badInput('DNS is turned off (dns.enabled = false)');
  const key = await loadTsigKey(config.dns.tsig_key_file, config.dns.tsig_algorithm);
  return new DnsClient({ server: config.dns.server, port: config.dns.port, key, ...opts });
}

const QUERY_CONCURRENCY = 8;

/** Query every RRset in `refs` (one query each, a few at a time). A CNAME answer is recorded too. */
export async function observe(dns: DnsTransport, refs: RRsetRef[], into = new Observation()): Promise<Observation> {
  const queue = [...refs];
  const worker = async () => {
    for (let ref = queue.shift(); ref; ref = queue.shift()) {
      const answer = await dns.query(ref.name, ref.type);
      const values = (type: number) => answer.filter((r) => r.type === type).map((r) => (r.rdata.type === 'PTR' || r.rdata.type === 'CNAME' ? r.rdata.target : rdataText(r.rdata)));
      into.set(ref.name, ref.type, values(TYPE[ref.type]));
      if (ref.type === 'A' || ref.type === 'AAAA') into.set(ref.name, 'CNAME', values(TYPE.CNAME));
    }
  };
  await Promise.all(Array.from({ length: Math.min(QUERY_CONCURRENCY, queue.length) }, worker));
  return into;
}

/**
 * Check that the server is authoritative for each zone (one SOA query each) before any change,
 * so a wrong zone name fails with a clear message and nothing half-done.
 */
export async function checkZones(dns: DnsTransport, zones: string[]): Promise<void> {
  const unserved = await unservedZones(dns, zones, { stopAtFirst: true });
  // a configuration conflict (exit 3), not a permission: nothing would let this caller do it
  if (unserved.length) throw zoneNotServed(unserved[0]!, dns.endpoint);
}

/** The zones of `zones` the server has no SOA for, asked in order (one SOA query each). */
export async function unservedZones(dns: DnsTransport, zones: string[], opts: { stopAtFirst?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  for (const zone of [...new Set(zones.map(normalizeName))]) {
    let served: boolean;
    try {
      served = (await dns.query(zone, 'SOA')).some((r) => r.type === TYPE.SOA && r.name === zone);
    } catch (err) {
      // REFUSED/NOTAUTH to a query: no such zone there. TSIG errors and the rest stay as they are.
      if (!(err instanceof DnsError) || (err.rcode !== RCODE.REFUSED && err.rcode !== RCODE.NOTAUTH)) throw err;
      served = false;
    }
    if (!served) out.push(zone);
    if (!served && opts.stopAtFirst) break;
  }
  return out;
}

/**
 * What a plan asked of the server: its zones (SOA), then, when all are served, the RRsets. A zone
 * not served is an answer for the planner to refuse on, not an error here.
 */
export async function observeVmDns(dns: DnsTransport, questions: { zones: string[]; refs: RRsetRef[] }): Promise<DnsAnswers> {
  const unserved = await unservedZones(dns, questions.zones, { stopAtFirst: true });
  const observed = unserved.length ? new Observation() : await observe(dns, questions.refs);
  return { endpoint: dns.endpoint, unserved, observed };
}

const zonesOf = (sets: VmRecordSet[]) => sets.flatMap((s) => s.rrsets.map((r) => r.zone));

/** Read back what an UPDATE should have left and compare; a mismatch is an error. */
export async function readBack(dns: DnsTransport, update: ZoneUpdate): Promise<void> {
  const seen = await observe(dns, update.expect.map((e) => ({ name: e.name, type: e.type })));
  const wrong: string[] = [];
  for (const e of update.expect) {
    const values = seen.get(e.name, e.type);
    const shown = values.length ? values.join(', ') : 'empty';
    if (e.equals && (values.length !== e.equals.length || e.equals.some((v) => !values.includes(v)))) {
      wrong.push(`${e.name} ${e.type} is ${shown}, expected ${e.equals.length ? e.equals.join(', ') : 'empty'}`);
    }
    const left = (e.lacks ?? []).filter((v) => values.includes(v));
    if (left.length) wrong.push(`${e.name} ${e.type} still holds ${left.join(', ')}`);
  }
  if (wrong.length) throw new RaptorError('unexpected', `DNS read-back of zone ${update.zone} at ${dns.endpoint} after the update: ${wrong.join('; ')}`);
}

/** Send each UPDATE and read it back, in order; stops at the first failure. `sent` hears of each UPDATE the server took. */
export async function applyUpdates(dns: DnsTransport, updates: ZoneUpdate[], sent: (u: ZoneUpdate) => void = () => {}): Promise<void> {
  for (const u of updates) {
    await dns.update(u.zone, u.request);
    sent(u);
    await readBack(dns, u);
  }
}

export interface AddResult {
  records: VmRecordSet;
  /** the UPDATEs sent (empty when the records were already in place) */
  applied: ZoneUpdate[];
  /** the UPDATEs that undo `applied`; the plan step's undo sends them */
  undo: ZoneUpdate[];
}

/**
 * Add a VM's A, AAAA and PTRs (conflict, exit 3, when their names hold other data, unless force).
 * The zones are separate UPDATEs; if a later one fails, the earlier ones are undone before the
 * error is thrown, so a failed create leaves no records.
 */
export async function addVmRecords(dns: DnsTransport, config: DnsConfig, vm: VmAddressing, opts: { force?: boolean } = {}): Promise<AddResult> {
  const records = vmRecords(config, vm);
  await checkZones(dns, zonesOf([records]));
  const observed = await observe(dns, queriesForVm(records));
  const plan = planAdd(records, observed, opts);
  await sendAll(dns, plan.updates, plan.undo);
  return { records, applied: plan.updates, undo: plan.undo };
}

/**
 * Send planned UPDATEs with read-back, zone by zone; if a later zone fails, the zones already
 * changed get their undo UPDATE (same zone in `undo`) before the error is thrown.
 */
export async function sendAll(dns: DnsTransport, updates: ZoneUpdate[], undo: ZoneUpdate[]): Promise<void> {
  const sent = new Set<string>();
  try {
    await applyUpdates(dns, updates, (u) => sent.add(u.zone));
  } catch (err) {
    await undoZones(dns, undo.filter((u) => sent.has(u.zone)), err);
    throw err;
  }
}

/** Send undo UPDATEs; an undo failure is added to the original error, which stays the one thrown. */
async function undoZones(dns: DnsTransport, undo: ZoneUpdate[], original: unknown): Promise<void> {
  for (const u of undo) {
    try {
      await dns.update(u.zone, u.request);
    } catch (undoErr) {
      if (original instanceof Error) {
        original.message += `; undoing the change to zone ${u.zone} failed too: ${undoErr instanceof Error ? undoErr.message : String(undoErr)}`;
      }
    }
  }
}

/** Undo an earlier add (the plan step's undo). */
export async function undoVmRecords(dns: DnsTransport, added: AddResult): Promise<void> {
  await applyUpdates(dns, added.undo);
}

/** Remove exactly a VM's records (each A, AAAA and PTR with its value); other data stays. */
export async function removeVmRecords(dns: DnsTransport, config: DnsConfig, vm: VmAddressing): Promise<ZoneUpdate[]> {
  const records = vmRecords(config, vm);
  await checkZones(dns, zonesOf([records]));
  const observed = await observe(dns, queriesForVm(records));
  const updates = planRemove(records, observed);
  await applyUpdates(dns, updates);
  return updates;
}

export interface SyncPlan {
  changes: SyncChange[];
  updates: ZoneUpdate[];
}

/** Compare the server with the VMs (two rounds of queries, no zone transfer) and plan the repair. */
export async function planDnsSync(dns: DnsTransport, config: DnsConfig & Pick<Config, 'bridges'>, vms: VmAddressing[]): Promise<SyncPlan> {
  const desired = vms.map((vm) => vmRecords(config, vm));
  await checkZones(dns, [config.dns.zone, ...zonesOf(desired)]);
  const observed = await observe(dns, syncQueries(config, desired));
  await observe(dns, syncFollowUpQueries(config, desired, observed), observed);
  const changes = diffForSync(config, desired, observed);
  return { changes, updates: planSync(changes, config.dns.ttl) };
}

/** `dns sync`: plan, and unless dry-run, apply with read-back. */
export async function syncDns(dns: DnsTransport, config: DnsConfig & Pick<Config, 'bridges'>, vms: VmAddressing[], opts: { dryRun?: boolean } = {}): Promise<SyncPlan> {
  const plan = await planDnsSync(dns, config, vms);
  if (!opts.dryRun) await applyUpdates(dns, plan.updates);
  return plan;
}

export interface ShownRRset {
  name: string;
  type: string;
  values: string[];
  expected: string[];
}

/** `dns show`: what the server answers for each of the VM's RRsets, beside what raptor expects. */
export async function showVmRecords(dns: DnsTransport, config: DnsConfig, vm: VmAddressing): Promise<ShownRRset[]> {
  const records = vmRecords(config, vm);
  const observed = await observe(dns, queriesForVm(records));
  return records.rrsets.map((r) => ({ name: r.name, type: r.type, values: observed.get(r.name, r.type), expected: r.values }));
}
