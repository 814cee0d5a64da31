// `raptor vm adopt ID [--fix] [--dry-run]`: a domain made by hand becomes raptor's.
import type { Command } from 'commander';
import { EXIT_CODES } from '../core/errors.ts';
import type { Violation } from '../plan/adopt.ts';
import { stepCommands, stepTitle, type Step } from '../plan/steps.ts';
import { adoptVm, planVmAdopt } from '../service/adopt.ts';
import { QuietExit } from './common.ts';
import { ctxFor, g } from './common.ts';
import { printJson, progressPrinter } from './output.ts';

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
};
const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

/** One line per violation: rule, what is there, what the rule wants. */
export function violationLines(vs: Violation[]): string[] {
  const width = Math.max(0, ...vs.map((v) => v.rule.length));
  return vs.map((v) => `${v.rule.padEnd(width)}  ${v.found}; want ${v.want}${v.fixable ? '' : ' (not fixable by raptor)'}`);
}

const violationJson = (vs: Violation[]) => vs.map((v) => ({ rule: v.rule, found: v.found, want: v.want, fixable: v.fixable, ...(v.why ? { why: v.why } : {}) }));
const stepJson = (steps: Step[], uri: string) => steps.map((s) => ({ kind: s.kind, title: stepTitle(s), commands: stepCommands(s, uri) }));

export function registerAdoptCommands(program: Command): void {
  const vm = program.commands.find((c) => c.name() === 'vm')!;
  vm.command('adopt')
    .description("make a domain made by hand raptor's: check every house rule; --fix makes its persistent definition follow them")
    .argument('<ID>', 'the domain, e.g. alice-web')
    .option('--fix', 'change the persistent definition so it follows the rules (effective from the next boot)')
    .option('--dry-run', 'print the violations, the XML diff and the commands, change nothing')
    .action(async (id: string, o: { fix?: boolean; dryRun?: boolean }, cmd: Command) => {
      const ctx = ctxFor(cmd);
      const json = Boolean(g(cmd).json);
      const uri = ctx.config.libvirt_uri;
      const fix = Boolean(o.fix);
      const { plan, reports } = o.dryRun
        ? { plan: await planVmAdopt(ctx, id, { fix }), reports: [] }
        : await adoptVm(ctx, id, {
            fix,
            onWait: () => log('waiting for another raptor process to finish (host lock)...'),
            ...(json ? {} : { onEvent: progressPrinter(process.stderr) }),
          });
      const violations = violationJson(plan.violations);
      if (plan.refusal) {
        if (json) printJson({ vm: plan.vm, violations, adopted: false, error: { code: 'conflict', exitCode: EXIT_CODES.conflict, message: plan.refusal } });
        else {
          for (const l of violationLines(plan.violations)) out(l);
          log(`raptor: ${plan.refusal}`);
        }
        throw new QuietExit(EXIT_CODES.conflict);
      }
      if (json) {
        printJson({
          vm: plan.vm,
          violations,
          adopted: !o.dryRun,
          dryRun: Boolean(o.dryRun),
          changed: !o.dryRun && reports.length > 0,
          steps: o.dryRun ? stepJson(plan.steps, uri) : reports.map((r) => ({ kind: r.step.kind, status: r.status, ms: Math.round(r.ms) })),
          diff: plan.diff,
          ...(o.dryRun ? { xml: plan.xmlAfter } : {}),
        });
        return;
      }
      for (const l of violationLines(plan.violations)) out(l);
      if (plan.alreadyAdopted) {
        out(`${plan.vm} follows the house rules and is raptor's: nothing to do`);
        return;
      }
      if (o.dryRun) {
        out(`Plan to adopt ${plan.vm} (dry run, nothing changed):`);
        plan.steps.forEach((s, i) => {
          out(`${i + 1}. ${stepTitle(s)}`);
          for (const c of stepCommands(s, uri)) out(`     $ ${c}`);
        });
        out('\nPersistent definition, before -> after:');
        for (const l of plan.diff) out(l);
        return;
      }
      const n = plan.violations.length;
      out(`adopted ${plan.vm}${n ? `: ${n} rule(s) fixed in its persistent definition, effective from its next boot` : ''}`);
    });
}
