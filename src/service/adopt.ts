// `raptor vm adopt` and the per-domain lines of `raptor host check`: observe, plan (plan/adopt.ts), apply.
import { authorize } from './authorize.ts';
import { existsSync } from 'node:fs';
import { badInput, notFound } from '../core/errors.ts';
import { parseDomainXml } from '../libvirt/domain-xml.ts';
import { assessDomain, planAdopt, type AdoptPlan } from '../plan/adopt.ts';
import { hostCpus } from '../plan/observe.ts';
import type { HostState } from '../plan/planner.ts';
import type { ProgressListener } from '../plan/events.ts';
import type { StepReport } from '../plan/apply.ts';
import { runApply, withHostLock, type Context } from './vm.ts';

/** A domain name as an argument: anything libvirt allows, but never a path or control characters. */
export function validateDomainArg(name: string): string {
  // eslint-disable-next-line no-control-regex
  if (name === '' || name.length > 255 || /[/\x00-\x1f\x7f]/.test(name)) {
    throw badInput(`invalid domain name "${name.slice(0, 64)}": 1-255 characters, no "/" or control characters`);
  }
  return name;
}

/** Every domain's persistent definition (raw and parsed), LVM and CPUs: one virsh process for the XML. */
async function observePersistent(ctx: Context): Promise<{ host: HostState; xml: Map<string, string> }> {
  const [list, { vg, lvs }] = await Promise.all([
    ctx.hv.listWithXml((xml) => ({ xml, parsed: parseDomainXml(xml) }), { inactive: true }),
    ctx.volumes.observe(ctx.config.storage.vg),
  ]);
  const xml = new Map(list.map((d) => [d.name, d.parsed.xml]));
  return { host: { hostCpus: hostCpus(), domains: list.map((d) => ({ name: d.name, state: d.state, parsed: d.parsed.parsed })), vg, lvs }, xml };
}

export async function planVmAdopt(ctx: Context, name: string, opts: { fix: boolean }): Promise<AdoptPlan> {
  validateDomainArg(name);
  authorize(ctx, 'vm adopt', name);
  const state = await ctx.hv.state(name);
  if (state === undefined) throw notFound(`domain ${name} not found`);
  // with secrets (VNC passwords, …), so the redefined domain loses nothing the edit does not remove
  const xml = await ctx.hv.dumpXml(name, { inactive: true, securityInfo: true });
  const { host } = await observePersistent(ctx);
  return planAdopt(ctx.config, { name, state, xml }, host, existsSync, { fix: opts.fix, now: new Date() });
}

/** Adopt under the host lock; a refused plan is returned unapplied (the caller reports it, exit 3). */
export async function adoptVm(ctx: Context, name: string, opts: { fix: boolean; onWait?: () => void; onEvent?: ProgressListener }): Promise<{ plan: AdoptPlan; reports: StepReport[] }> {
  authorize(ctx, 'vm adopt', validateDomainArg(name));
  return withHostLock(ctx, opts.onWait, async () => {
    const plan = await planVmAdopt(ctx, name, { fix: opts.fix });
    if (plan.refusal || plan.steps.length === 0) return { plan, reports: [] };
    return runApply(ctx, plan, {}, opts.onEvent);
  });
}

export interface DomainCheckLine {
  check: string;
  ok: boolean;
  detail: string;
  fix: string | null;
}

/** `host check`: one line per broken rule of every domain (its persistent definition), one ok line per compliant one. */
export async function domainCheckLines(ctx: Context): Promise<DomainCheckLine[]> {
  let observed: Awaited<ReturnType<typeof observePersistent>>;
  try {
    observed = await observePersistent(ctx);
  } catch (err) {
    return [{ check: 'domains', ok: false, detail: `cannot read the domains and volumes: ${(err as Error).message}`, fix: 'run raptor host check as root' }];
  }
  const out: DomainCheckLine[] = [];
  for (const d of [...observed.host.domains].sort((a, b) => a.name.localeCompare(b.name))) {
    const a = assessDomain(ctx.config, observed.xml.get(d.name)!, observed.host, existsSync);
    for (const v of a.violations) {
      out.push({ check: `domain ${d.name}: ${v.rule}`, ok: false, detail: `${v.found}; want ${v.want}`, fix: v.fixable ? `raptor vm adopt ${d.name} --fix (effective from its next boot)` : (v.why ?? '') });
    }
    if (a.violations.length) continue;
    const raptors = a.parsed.metadata?.owner !== undefined;
    out.push({
      check: `domain ${d.name}`,
      ok: raptors,
      detail: raptors ? 'follows the house rules' : 'follows the house rules but has no raptor metadata (made by hand)',
      fix: raptors ? null : `raptor vm adopt ${d.name}`,
    });
  }
  return out;
}
