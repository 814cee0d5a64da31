// `raptor dns sync|show`: make DNS match the VMs, and show what the server answers for one.
import type { Command } from 'commander';
import { parseVmId } from '../core/naming.ts';
import { showVmDns, syncVmDns } from '../service/dns.ts';
import { ctxFor, g } from './common.ts';
import { printJson, table } from './output.ts';
import { DnsSyncRequest, parseRequest } from '../service/schemas.ts';

export function registerDnsCommands(program: Command): void {
  const dns = program.command('dns').description('DNS records of the VMs (RFC 2136 with TSIG)');
  dns
    .command('sync')
    .description("make the zone's raptor records match the VMs (missing, stale, wrong address)")
    .option('--dry-run', 'print the difference, change nothing')
    .action(async (o: { dryRun?: boolean }, cmd: Command) => {
      const r = await syncVmDns(ctxFor(cmd), parseRequest(DnsSyncRequest, { dryRun: Boolean(o.dryRun) }));
      if (g(cmd).json) printJson({ dryRun: r.dryRun, changes: r.changes });
      else if (r.changes.length === 0) process.stdout.write('DNS matches the VMs: nothing to do\n');
      else process.stdout.write(`${r.dryRun ? 'would repair' : 'repaired'}:\n${r.changes.map((l) => `  ${l}`).join('\n')}\n`);
    });
  dns
    .command('show')
    .description('print what the DNS server answers for a VM, beside what raptor expects')
    .argument('<USER-NAME>')
    .action(async (id: string, _o, cmd: Command) => {
      const r = await showVmDns(ctxFor(cmd), parseVmId(id));
      if (g(cmd).json) printJson(r.rows);
      else if (!r.addressed) process.stdout.write(`${r.vm} has no network address, so no DNS records\n`);
      else {
        const mark = (row: { values: string[]; expected: string[] }) => (row.values.join(' ') === row.expected.join(' ') ? 'ok' : 'DIFFERS');
        process.stdout.write(table(['NAME', 'TYPE', 'SERVER ANSWERS', 'EXPECTED', ''], r.rows.map((row) => [row.name, row.type, row.values.join(' ') || '-', row.expected.join(' ') || '-', mark(row)])));
      }
    });
}
