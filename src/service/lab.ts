// Lab operations (quotas, resize, expiry): the service functions behind `raptor vm resize|expire|reap`
// and the use shown by `raptor user list`.
import { authorize } from './authorize.ts';
import { actorHv } from './as-actor.ts';
import type { Config } from '../core/config.ts';
import { isExpired } from '../core/expiry.ts';
import { notFound, RaptorError } from '../core/errors.ts';
import { domainName, tryParseVmId, type VmId } from '../core/naming.ts';
import { noUsage, quotaFor, usageByUser, type Quota, type Usage } from '../core/quota.ts';
import { appendAudit } from '../host/audit.ts';
import { RAPTOR_XMLNS, parseDomainXml, type ParsedDomain } from '../libvirt/domain-xml.ts';
import { setMetadataChild } from '../libvirt/domain-resize.ts';
import { observeDomains, observeHost } from '../plan/observe.ts';
import { namesFor } from '../plan/planner.ts';
import { planResize, type ResizePlan, type ResizeRequest } from '../plan/resize.ts';
import type { ProgressListener } from '../plan/events.ts';
import { destroyVm, diskSizeOf, listVms, runApply, withHostLock, type ApplyOutcome, type Context, type VmInfo } from './vm.ts';

// ---- quotas ----------------------------------------------------------------------------------

export interface UserUsage {
  use: Usage;
  quota: Quota;
}

/**
 * Use against quota for each user, from the domains and their disks' block devices (no LVM
 * process, so vm-users can run it; a volume without a domain is not seen here, the planners see it).
 */
export async function usageOf(ctx: Context, users: string[]): Promise<Map<string, UserUsage>> {
  // a read for the actor: libvirt shows them the domains they may see
  const domains = await observeDomains(actorHv(ctx));
  const lvs = domains.flatMap((d) => {
    const info = vmLv(ctx.config, d.name);
    const size = info ? diskSizeOf(info.path) : null;
    return info && size !== null ? [{ name: info.lv, sizeBytes: size }] : [];
  });
  const use = usageByUser({ domains: domains.map((d) => ({ name: d.name, vcpus: d.parsed.vcpus, memoryMiB: d.parsed.memoryMiB })), lvs });
  return new Map(users.map((u) => [u, { use: use.get(u) ?? noUsage(), quota: quotaFor(ctx.config, u) }]));
}

function vmLv(config: Config, domain: string): { lv: string; path: string } | undefined {
  const id = tryParseVmId(domain);
  const names = id ? namesFor(config, id) : undefined;
  return names ? { lv: names.lv, path: names.lvPath } : undefined;
}

// ---- resize ----------------------------------------------------------------------------------

async function resizeTarget(ctx: Context, vm: VmId) {
  const name = domainName(vm);
  const state = await ctx.hv.state(name);
  if (state === undefined) throw notFound(`VM ${name} not found`);
  const [liveXml, inactiveXml] = await Promise.all([ctx.hv.dumpXml(name), ctx.hv.dumpXml(name, { inactive: true })]);
  return { state, liveXml, live: parseDomainXml(liveXml), inactiveXml, inactive: parseDomainXml(inactiveXml) };
}

export async function planVmResize(ctx: Context, req: ResizeRequest): Promise<ResizePlan> {
  authorize(ctx, 'vm resize', domainName(req.vm));
  const [host, target] = await Promise.all([observeHost(ctx.config, ctx.hv, ctx.volumes), resizeTarget(ctx, req.vm)]);
  return planResize(ctx.config, req, host, target);
}

export async function resizeVm(
  ctx: Context,
  req: ResizeRequest,
  opts: { onWait?: () => void; onEvent?: ProgressListener } = {},
): Promise<ApplyOutcome<ResizePlan>> {
  authorize(ctx, 'vm resize', domainName(req.vm));
  return withHostLock(ctx, opts.onWait, async () => {
    const plan = await planVmResize(ctx, req);
    return runApply(ctx, plan, {}, opts.onEvent, req.ignoreQuota ? { ignoreQuota: true } : {});
  });
}

/** What a running VM's persistent definition will change at its next boot (empty: nothing pending). */
export interface PendingChange {
  vcpus?: number;
  cpuset?: number[];
  emulatorCpuset?: number[];
  memoryMiB?: number;
}

export function pendingChange(live: ParsedDomain, inactive: ParsedDomain): PendingChange {
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const out: PendingChange = {};
  if (live.vcpus !== inactive.vcpus) out.vcpus = inactive.vcpus;
  if (!same(live.vcpuPins, inactive.vcpuPins)) out.cpuset = inactive.vcpuPins;
  if (!same(live.emulatorSet, inactive.emulatorSet)) out.emulatorCpuset = inactive.emulatorSet;
  if (live.memoryMiB !== inactive.memoryMiB) out.memoryMiB = inactive.memoryMiB;
  return out;
}

/** For `vm show`: the changes a running VM takes on at its next boot. */
export async function pendingOf(ctx: Context, vm: VmId, state: string): Promise<PendingChange | null> {
  if (state === 'shut off') return null;
  const name = domainName(vm);
  let live: string;
  let inactive: string;
  try {
    [live, inactive] = await Promise.all([actorHv(ctx).dumpXml(name), actorHv(ctx).dumpXml(name, { inactive: true })]);
  } catch (err) {
    // gone meanwhile, or a caller libvirt shows only the running definition: nothing to compare
    if (err instanceof RaptorError && (err.kind === 'not-found' || err.kind === 'not-allowed')) return null;
    throw err;
  }
  const p = pendingChange(parseDomainXml(live), parseDomainXml(inactive));
  return Object.keys(p).length ? p : null;
}

// ---- expiry ----------------------------------------------------------------------------------

/** Set (ISO time) or clear (null) a VM's expiry, in the persistent and, when running, the live definition. */
export async function setExpiry(ctx: Context, vm: VmId, expires: string | null): Promise<{ vm: string; expires: string | null; previous: string | null }> {
  const name = domainName(vm);
  authorize(ctx, 'vm expire', name);
  return withHostLock(ctx, undefined, async () => {
    const state = await ctx.hv.state(name);
    if (state === undefined) throw notFound(`VM ${name} not found`);
    const previous = parseDomainXml(await ctx.hv.dumpXml(name, { inactive: true })).metadata;
    if (!previous) throw new RaptorError('conflict', `${name} has no raptor metadata (not made by raptor): nothing to keep an expiry in`);
    const current = await ctx.hv.metadata(name, RAPTOR_XMLNS, { config: true });
    const xml = setMetadataChild(current, 'expires', expires);
    const plan = [`set expiry of ${name} to ${expires ?? 'never'} (was ${previous.expires ?? 'never'})`];
    try {
      await ctx.hv.setMetadata(name, RAPTOR_XMLNS, 'raptor', xml, { config: true, live: state !== 'shut off' });
      appendAudit(ctx.config.audit_log, ctx.actor, { command: ctx.commandLine, plan, result: 'ok' });
    } catch (err) {
      appendAudit(ctx.config.audit_log, ctx.actor, { command: ctx.commandLine, plan, result: 'failed', error: (err as Error).message });
      throw err;
    }
    return { vm: name, expires, previous: previous.expires ?? null };
  });
}

export async function listExpired(ctx: Context, now: Date): Promise<VmInfo[]> {
  return (await listVms(ctx)).filter((v) => v.managed && isExpired(v.expires, now));
}

export interface ReapResult {
  vm: string;
  expires: string;
  result: 'destroyed' | 'failed';
  error?: string;
  steps?: { kind: string; status: string; ms: number }[];
}

/**
 * Destroy every expired VM with the normal destroy (wipe included), one after the other: each is
 * its own locked, audited destroy, and a failing one does not stop the rest.
 */
export async function reapExpired(
  ctx: Context,
  now: Date,
  opts: {
    wipe: { offload: boolean; verify: 'sample' | 'full'; stepBytes: number };
    onVm?: (vm: string) => void;
    onEvent?: ProgressListener;
  },
): Promise<ReapResult[]> {
  authorize(ctx, 'vm reap');
  const out: ReapResult[] = [];
  for (const v of await listExpired(ctx, now)) {
    const id = tryParseVmId(v.name)!;
    opts.onVm?.(v.name);
    try {
      const { reports } = await destroyVm(ctx, id, { wipe: opts.wipe, ...(opts.onEvent ? { onEvent: opts.onEvent } : {}) });
      out.push({ vm: v.name, expires: v.expires!, result: 'destroyed', steps: reports.map((r) => ({ kind: r.step.kind, status: r.status, ms: Math.round(r.ms) })) });
    } catch (err) {
      out.push({ vm: v.name, expires: v.expires!, result: 'failed', error: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}
