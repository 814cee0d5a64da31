// `raptor host init|check`: the access rules and dependencies of the host.
import type { Command } from 'commander';
import { hostCheck, hostInit, type CheckLine } from '../service/access.ts';
import { configPath, ctxFor, g, QuietExit } from './common.ts';
import { printJson } from './output.ts';
import { planJson, printSteps } from './plan-output.ts';

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
};

function printChecks(lines: CheckLine[]): void {
  const width = Math.max(...lines.map((l) => l.check.length));
  for (const l of lines) {
    out(`${l.ok ? 'ok   ' : 'WRONG'}  ${l.check.padEnd(width)}  ${l.detail}`);
    if (l.fix) out(`${' '.repeat(width + 9)}fix: ${l.fix}`);
  }
  const wrong = lines.filter((l) => !l.ok).length;
  out(wrong ? `\n${wrong} of ${lines.length} checks are wrong` : `\nall ${lines.length} checks ok`);
}

export function registerHostCommands(program: Command): void {
  const host = program.command('host').description('the host: access rules and dependencies');
  host
    .command('init')
    .description('install the polkit rules, turn on libvirt\'s polkit access driver, create the user group (idempotent)')
    .option('--dry-run', 'say what would change, change nothing')
    .option('--restart', 'restart libvirt\'s daemon if its config changed')
    .action(async (o: { dryRun?: boolean; restart?: boolean }, cmd: Command) => {
      const ctx = ctxFor(cmd);
      const r = await hostInit(ctx, { dryRun: Boolean(o.dryRun), restart: Boolean(o.restart) });
      if (g(cmd).json || r.nixos) {
        if (g(cmd).json) printJson({ ...r, plan: planJson({ steps: r.plan }, ctx.config.libvirt_uri) });
        else out(r.nixos!);
        return;
      }
      const width = Math.max(...r.items.map((i) => i.item.length));
      for (const i of r.items) out(`${i.status.padEnd(12)}  ${i.item.padEnd(width)}  ${i.detail}`);
      if (r.dryRun && r.plan.length) {
        out('\nPlan (dry run, nothing changed):');
        printSteps(r.plan, ctx.config.libvirt_uri, out);
        out('');
      }
      if (!r.changed) out('nothing changed: the host was already set up');
      else if (r.dryRun) out('dry run: nothing changed');
      if (r.restartNeeded) {
        if (r.restart) out(r.restart.done ? r.restart.detail : `libvirt must be restarted to read its config: ${r.restart.detail}`);
        else out(`libvirt must be restarted to read its config${r.dryRun ? '' : ': raptor host init --restart, or restart it by hand'}`);
      } else if (!r.dryRun) out('no libvirt restart needed');
    });

  host
    .command('check')
    .description('check every rule and dependency; exit 1 when something is wrong')
    .action(async (_o, cmd: Command) => {
      // the same lookup loadConfig uses, /etc/raptor/raptor.toml included
      const path = configPath(g(cmd).config);
      const lines = await hostCheck(ctxFor(cmd), path !== undefined ? { configPath: path } : {});
      if (g(cmd).json) printJson(lines);
      else printChecks(lines);
      if (lines.some((l) => !l.ok)) throw new QuietExit(1);
    });
}
