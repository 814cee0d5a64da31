// `raptor vm resize|expire|reap`: lab operations (quotas are checked inside create and resize).
import { Command, CommanderError, Option } from 'commander';
import { badInput } from '../core/errors.ts';
import { parseExpiry } from '../core/expiry.ts';
import { parseVmId } from '../core/naming.ts';
import { formatSize, parseSize } from '../core/size.ts';
import { formatCpuList } from '../core/cpus.ts';
import { stepCommands, stepTitle, type Step } from '../plan/steps.ts';
import { listExpired, planVmResize, reapExpired, resizeVm, setExpiry } from '../service/lab.ts';
import { planVmDestroy } from '../service/vm.ts';
import type { ResizeRequest } from '../plan/resize.ts';
import { ctxFor, g } from './common.ts';
import { printJson, progressPrinter } from './output.ts';

const log = (msg: string) => process.stderr.write(msg + '\n');
const out = (msg: string) => process.stdout.write(msg + '\n');

export function parseCpuCount(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 4096) throw badInput(`invalid CPU count "${v}": must be a whole number from 1 to 4096`);
  return Number(v);
}

/** `--disk SIZE` (the new size) or `--disk +SIZE` (added to the current size). */
export function parseDiskArg(v: string): { bytes: number; relative: boolean } {
  const t = v.trim();
  if (t.startsWith('-')) throw badInput(`invalid disk size "${v}": disks only grow`);
  const relative = t.startsWith('+');
  return { bytes: parseSize(relative ? t.slice(1) : t, 'disk size'), relative };
}

const stepsJson = (steps: Step[], uri: string) =>
  steps.map((s) => ({ kind: s.kind, title: stepTitle(s), commands: stepCommands(s, uri), ...(s.kind === 'domain-redefine' ? { xml: s.xml } : {}) }));

function printPlan(steps: Step[], uri: string): void {
  steps.forEach((s, i) => {
    out(`${i + 1}. ${stepTitle(s)}`);
    for (const c of stepCommands(s, uri)) out(`     $ ${c}`);
  });
}

class QuietExit extends CommanderError {
  constructor(code: number) {
    super(code, 'commander.executeSubCommandAsync', '');
  }
}

export function registerLabCommands(program: Command): void {
  const vm = program.commands.find((c) => c.name() === 'vm');
  if (!vm) throw new Error('the vm command group must be registered first');

  vm.command('resize')
    .description('grow the disk, change memory or CPUs of a VM (admins; CPUs and memory from the next boot)')
    .argument('<USER-NAME>')
    .option('--disk <size|+size>', 'new disk size, or +SIZE to add (disks only grow)')
    .option('--memory <size>', 'new memory, e.g. 4G')
    .option('--cpus <n>', 'new number of vCPUs, each pinned to a host CPU of its own')
    .option('--ignore-quota', "go past the owner's quota (recorded in the audit log)")
    .option('--dry-run', 'print the plan with the commands and the new definition, change nothing')
    .action(async (id: string, o: Record<string, unknown>, cmd: Command) => {
      const req: ResizeRequest = { vm: parseVmId(id) };
      if (o.disk !== undefined) req.disk = parseDiskArg(String(o.disk));
      if (o.memory !== undefined) req.memoryBytes = parseSize(String(o.memory), 'memory size');
      if (o.cpus !== undefined) req.cpus = parseCpuCount(String(o.cpus));
      if (o.ignoreQuota) req.ignoreQuota = true;
      const ctx = ctxFor(cmd);
      const json = Boolean(g(cmd).json);
      const uri = ctx.config.libvirt_uri;
      if (o.dryRun) {
        const plan = await planVmResize(ctx, req);
        if (json) printJson({ dryRun: true, vm: plan.domain, after: plan.after, notes: plan.notes, steps: stepsJson(plan.steps, uri), xml: plan.xml });
        else {
          out(`Plan to resize ${plan.domain} (dry run, nothing changed):`);
          printPlan(plan.steps, uri);
          if (!plan.steps.length) out('(nothing to change)');
          for (const n of plan.notes) out(`note: ${n}`);
          if (plan.xml) out(`\nNew persistent definition:\n${plan.xml.trimEnd()}`);
        }
        return;
      }
      const { plan, reports } = await resizeVm(ctx, req, {
        onWait: () => log('waiting for another raptor process to finish (host lock)...'),
        ...(json ? {} : { onEvent: progressPrinter(process.stderr) }),
      });
      if (json) {
        printJson({ resized: plan.domain, after: plan.after, notes: plan.notes, steps: reports.map((r) => ({ kind: r.step.kind, status: r.status, ms: Math.round(r.ms) })) });
        return;
      }
      const a = plan.after;
      out(`resized ${plan.domain}: disk ${a.diskBytes !== null ? formatSize(a.diskBytes) : '-'}, memory ${a.memoryMiB} MiB, ${a.vcpus} vCPUs on host CPUs ${formatCpuList(a.cpuset)}`);
      for (const n of plan.notes) out(`  ${n}`);
    });

  vm.command('expire')
    .description('set when a VM expires (raptor vm reap destroys it then), or never (admins)')
    .argument('<USER-NAME>')
    .argument('<when>', 'a date (2027-03-01), a UTC time, a duration from now (90d, 12h), now, or never')
    .action(async (id: string, when: string, _o, cmd: Command) => {
      const vmId = parseVmId(id);
      const expires = when === 'never' ? null : parseExpiry(when, new Date(), { allowNow: true }).toISOString();
      const r = await setExpiry(ctxFor(cmd), vmId, expires);
      if (g(cmd).json) printJson(r);
      else out(`${r.vm}: expires ${r.expires ?? 'never'} (was ${r.previous ?? 'never'})`);
    });

  vm.command('reap')
    .description('destroy every expired VM, with the normal wipe (admins; for a daily timer: never asks)')
    .option('--dry-run', 'list what would be destroyed and the plans, change nothing')
    .addOption(new Option('--verify <mode>', 'read back zeros: sample or full').choices(['sample', 'full']).default('sample'))
    .option('--no-offload', 'zero with plain direct writes even when the device offloads write-zeroes')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const ctx = ctxFor(cmd);
      const json = Boolean(g(cmd).json);
      const now = new Date();
      const uri = ctx.config.libvirt_uri;
      if (o.dryRun) {
        const due = await listExpired(ctx, now);
        const plans = [];
        for (const v of due) {
          const plan = await planVmDestroy(ctx, parseVmId(v.name));
          plans.push({ vm: v.name, expires: v.expires, steps: plan.steps });
        }
        if (json) printJson({ dryRun: true, now: now.toISOString(), vms: plans.map((p) => ({ vm: p.vm, expires: p.expires, steps: stepsJson(p.steps, uri) })) });
        else {
          out(due.length ? `Would destroy ${due.length} expired VM(s) (dry run, nothing changed):` : 'no VM has expired (dry run, nothing changed)');
          for (const p of plans) {
            out(`\n${p.vm} (expired ${p.expires}):`);
            printPlan(p.steps, uri);
          }
        }
        return;
      }
      const results = await reapExpired(ctx, now, {
        wipe: {
          offload: o.offload !== false,
          verify: o.verify === 'full' ? 'full' : 'sample',
          stepBytes: parseSize(ctx.config.storage.wipe_step, 'storage.wipe_step'),
        },
        ...(json ? {} : { onVm: (v: string) => log(`reaping ${v}`), onEvent: progressPrinter(process.stderr) }),
      });
      const failed = results.filter((r) => r.result === 'failed');
      if (json) printJson({ now: now.toISOString(), reaped: results });
      else {
        if (!results.length) out('no VM has expired');
        for (const r of results) out(`${r.vm}: ${r.result === 'destroyed' ? `destroyed (expired ${r.expires})` : `FAILED: ${r.error}`}`);
        if (failed.length) log(`raptor: ${failed.length} of ${results.length} expired VMs could not be destroyed`);
      }
      if (failed.length) throw new QuietExit(1);
    });
}

/** Rows for `vm list --expired` and friends. */
export function expiresCell(expires: string | null): string {
  return expires ? expires.replace(/\.000Z$/, 'Z') : '-';
}
