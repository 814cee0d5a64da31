// DNS service functions: `dns sync` (locked, audited, admins only) and `dns show` (a read, as the actor).
import { tryParseVmId, type VmId } from '../core/naming.ts';
import { describeSyncChange, type VmAddressing } from '../dns/records.ts';
import { showVmRecords, syncDns } from '../dns/service.ts';
import { appendAudit } from '../host/audit.ts';
import { observeDomains } from '../plan/observe.ts';
import { namesFor, vmAddressing } from '../plan/planner.ts';
import { parseDomainXml } from '../libvirt/domain-xml.ts';
import { authorize } from './authorize.ts';
import { actorHv } from './as-actor.ts';
import { dnsFor, requireDomain, withHostLock, type Context } from './vm.ts';

/** The addressing of every managed VM with a network, from the domains on the host. */
async function vmsForDns(ctx: Context): Promise<VmAddressing[]> {
  const out: VmAddressing[] = [];
  for (const d of await observeDomains(ctx.hv)) {
    const id = tryParseVmId(d.name);
    if (!id) continue;
    const a = vmAddressing(ctx.config, d.name, namesFor(ctx.config, id).fqdn, d.parsed.interfaces[0]?.bridge);
    if (a) out.push(a);
  }
  return out;
}

export interface DnsSyncResult {
  dryRun: boolean;
  /** one line per record changed (or, in a dry run, that would change) */
  changes: string[];
}

/** Make the zone's raptor records match the VMs; a dry run only says what differs. A real one runs under the host lock and is audited. */
export async function syncVmDns(ctx: Context, opts: { dryRun?: boolean; onWait?: () => void } = {}): Promise<DnsSyncResult> {
  authorize(ctx, 'dns sync');
  const dryRun = Boolean(opts.dryRun);
  const run = async (): Promise<DnsSyncResult> => {
    const plan = await syncDns(await dnsFor(ctx), ctx.config, await vmsForDns(ctx), { dryRun });
    const changes = plan.changes.map(describeSyncChange);
    if (!dryRun && changes.length) appendAudit(ctx.config.audit_log, ctx.actor, { command: ctx.commandLine, plan: changes, result: 'ok' });
    return { dryRun, changes };
  };
  if (dryRun) return run();
  return withHostLock(ctx, opts.onWait, run);
}

export interface DnsShowResult {
  vm: string;
  /** false: the VM has no network address, so no records */
  addressed: boolean;
  rows: Awaited<ReturnType<typeof showVmRecords>>;
}

/** What the DNS server answers for a VM beside what raptor expects; the domain is read as the actor, so others' VMs are not found. */
export async function showVmDns(ctx: Context, vm: VmId): Promise<DnsShowResult> {
  const name = await requireDomain(ctx, vm);
  const parsed = parseDomainXml(await actorHv(ctx).dumpXml(name));
  const a = vmAddressing(ctx.config, name, namesFor(ctx.config, vm).fqdn, parsed.interfaces[0]?.bridge);
  return { vm: name, addressed: a !== undefined, rows: a ? await showVmRecords(await dnsFor(ctx), ctx.config, a) : [] };
}
