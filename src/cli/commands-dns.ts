// `raptor dns sync|show`: make DNS match the VMs, and show what the server answers for one.
import type { Command } from 'commander';
import { parseVmId, tryParseVmId } from '../core/naming.ts';
import { describeSyncChange, type VmAddressing } from '../dns/records.ts';
import { showVmRecords, syncDns } from '../dns/service.ts';
import { appendAudit } from '../host/audit.ts';
import { observeDomains } from '../plan/observe.ts';
import { namesFor, vmAddressing } from '../plan/planner.ts';
import { dnsFor, requireDomain, withHostLock, type Context } from '../service/vm.ts';
import { parseDomainXml } from '../libvirt/domain-xml.ts';
import { ctxFor, g } from './common.ts';
import { printJson, table } from './output.ts';

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

export function registerDnsCommands(program: Command): void {
  const dns = program.command('dns').description('DNS records of the VMs (RFC 2136 with TSIG)');
  dns
    .command('sync')
    .description("make the zone's raptor records match the VMs (missing, stale, wrong address)")
    .option('--dry-run', 'print the difference, change nothing')
    .action(async (o: { dryRun?: boolean }, cmd: Command) => {
      const ctx = ctxFor(cmd);
      const run = async () => {
        const plan = await syncDns(await dnsFor(ctx), ctx.config, await vmsForDns(ctx), { dryRun: Boolean(o.dryRun) });
        const lines = plan.changes.map(describeSyncChange);
        if (!o.dryRun && plan.changes.length) appendAudit(ctx.config.audit_log, { command: ctx.commandLine, plan: lines, result: 'ok' });
        if (g(cmd).json) printJson({ dryRun: Boolean(o.dryRun), changes: lines });
        else if (lines.length === 0) process.stdout.write('DNS matches the VMs: nothing to do\n');
        else process.stdout.write(`${o.dryRun ? 'would repair' : 'repaired'}:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
      };
      if (o.dryRun) return run();
      await withHostLock(ctx, undefined, run);
    });
  dns
    .command('show')
    .description('print what the DNS server answers for a VM, beside what raptor expects')
    .argument('<USER-NAME>')
    .action(async (id: string, _o, cmd: Command) => {
      const ctx = ctxFor(cmd);
      const vm = parseVmId(id);
      const name = await requireDomain(ctx, vm);
      const parsed = parseDomainXml(await ctx.hv.dumpXml(name));
      const a = vmAddressing(ctx.config, name, namesFor(ctx.config, vm).fqdn, parsed.interfaces[0]?.bridge);
      const rows = a ? await showVmRecords(await dnsFor(ctx), ctx.config, a) : [];
      if (g(cmd).json) printJson(rows);
      else if (!a) process.stdout.write(`${name} has no network address, so no DNS records\n`);
      else {
        const mark = (r: { values: string[]; expected: string[] }) => (r.values.join(' ') === r.expected.join(' ') ? 'ok' : 'DIFFERS');
        process.stdout.write(table(['NAME', 'TYPE', 'SERVER ANSWERS', 'EXPECTED', ''], rows.map((r) => [r.name, r.type, r.values.join(' ') || '-', r.expected.join(' ') || '-', mark(r)])));
      }
    });
}
