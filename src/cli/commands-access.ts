// `raptor user …` and `raptor host init|check`, and the one table of admin-only commands.
import { Command, CommanderError } from 'commander';
import { EXIT_CODES, notAllowed } from '../core/errors.ts';
import { validateUser } from '../core/naming.ts';
import { addUser, describeAccount, hostCheck, hostInit, listUsers, readSshKeyArgs, removeUser, requireAdmin, type CheckLine } from '../service/access.ts';
import { ctxFor, g } from './common.ts';
import { usageOf } from '../service/lab.ts';
import { formatSize } from '../core/size.ts';
import { printJson, table } from './output.ts';
import { planJson, printSteps } from './plan-output.ts';
import type { Step } from '../plan/steps.ts';

/**
 * Commands that change the host, so only an admin (root or an admin group) may run them; the
 * rest (vm list/show/start/stop/reboot/console) run as the caller, and polkit decides.
 */
export const ADMIN_ONLY_COMMANDS = new Set(['vm create', 'vm destroy', 'vm adopt', 'vm resize', 'vm expire', 'vm reap', 'user add', 'user remove', 'host init']);

const commandPath = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};

/** Exit with a code but no error message (the output already said what is wrong). */
export class QuietExit extends CommanderError {
  constructor(code: number) {
    // main() returns this code's exitCode without printing anything
    super(code, 'commander.executeSubCommandAsync', '');
  }
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** A dry run's plan, numbered, with why and the equivalent commands. */
function printPlan(steps: Step[], uri: string): void {
  if (steps.length === 0) return;
  out('Plan (dry run, nothing changed):');
  printSteps(steps, uri, out);
}
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

export function registerAccessCommands(program: Command): void {
  program.hook('preAction', async (_program, action) => {
    const path = commandPath(action);
    if (ADMIN_ONLY_COMMANDS.has(path)) await requireAdmin(ctxFor(action), `raptor ${path}`);
  });

  // ---- user ----
  const user = program.command('user').description('host accounts of VM users');
  user
    .command('add')
    .description('create the account (if missing) in the user group and install SSH public keys')
    .argument('<USER>')
    .option('--ssh-key <key|file>', 'an SSH public key, or a .pub file holding some (repeatable)', collect, [] as string[])
    .option('--add-existing', 'USER is an existing account outside the user group: add it (a privilege change: it may then use libvirt); user remove still keeps the account')
    .option('--dry-run', 'say what would change, change nothing')
    .action(async (name: string, o: { sshKey: string[]; dryRun?: boolean; addExisting?: boolean }, cmd: Command) => {
      validateUser(name);
      const keys = readSshKeyArgs(o.sshKey);
      const ctx = ctxFor(cmd);
      const uri = ctx.config.libvirt_uri;
      const r = await addUser(ctx, name, keys, { dryRun: Boolean(o.dryRun), addExisting: Boolean(o.addExisting) });
      if (g(cmd).json) {
        printJson({
          user: r.user,
          dryRun: r.dryRun,
          changed: r.changed,
          accountCreated: r.accountCreated,
          groupCreated: r.groupCreated,
          addedToGroup: r.addedToGroup,
          keysAdded: r.keysAdded.map((k) => ({ type: k.type, fingerprint: k.fingerprint, comment: k.comment })),
          keysPresent: r.keysPresent.map((k) => ({ type: k.type, fingerprint: k.fingerprint, comment: k.comment })),
          modesFixed: r.modesFixed,
          authorizedKeys: r.authorizedKeys,
          plan: planJson({ steps: r.plan }, uri),
          ...(r.nixos ? { nixos: r.nixos } : {}),
          ...(r.refused ? { error: { code: 'not-allowed', exitCode: EXIT_CODES['not-allowed'], message: r.refused } } : {}),
        });
        if (r.refused) throw new QuietExit(EXIT_CODES['not-allowed']);
        return;
      }
      if (r.nixos) {
        out(r.nixos);
        if (r.refused) throw notAllowed(r.refused);
        return;
      }
      for (const l of describeAccount(r)) out(l);
      if (r.dryRun) printPlan(r.plan, uri);
      out(r.changed ? `${r.user}: ${r.dryRun ? 'dry run, nothing changed' : 'done'}` : `${r.user}: nothing to change`);
    });

  user
    .command('remove')
    .description('remove an account raptor created (refused while the user owns VMs); the home stays unless --purge')
    .argument('<USER>')
    .option('--purge', 'remove the home directory too')
    .option('--dry-run', 'check, change nothing')
    .action(async (name: string, o: { purge?: boolean; dryRun?: boolean }, cmd: Command) => {
      const ctx = ctxFor(cmd);
      const r0 = await removeUser(ctx, name, { purge: Boolean(o.purge), dryRun: Boolean(o.dryRun) });
      const r = { ...r0, plan: planJson({ steps: r0.plan }, ctx.config.libvirt_uri) };
      if (g(cmd).json) {
        printJson(r.refused ? { ...r, error: { code: 'not-allowed', exitCode: EXIT_CODES['not-allowed'], message: r.refused } } : r);
        if (r.refused) throw new QuietExit(EXIT_CODES['not-allowed']);
        return;
      }
      if (r.nixos) {
        // NixOS: the account is the configuration's; raptor removed nothing
        out(r.nixos);
        if (r.refused) throw notAllowed(r.refused);
        return;
      }
      if (r.dryRun) {
        printPlan(r0.plan, ctx.config.libvirt_uri);
        out(`${name}: would be removed${o.purge ? ' with its home' : ' (home kept)'}; dry run, nothing changed`);
      } else out(`removed ${name}${r.homeRemoved ? ' and its home' : ' (home kept)'}`);
    });

  user
    .command('list')
    .description('members of the user group, their VMs, and their use against quota')
    .action(async (_o, cmd: Command) => {
      const ctx = ctxFor(cmd);
      const users = await listUsers(ctx);
      const usage = await usageOf(ctx, users.map((u) => u.user));
      const withUse = users.map((u) => ({ ...u, ...usage.get(u.user)! }));
      if (g(cmd).json) printJson(withUse);
      else {
        const of = (n: number, limit: number | null, f: (x: number) => string = String) => `${f(n)}/${limit === null ? '-' : f(limit)}`;
        out(table(['USER', 'UID', 'RAPTOR', 'VMS', 'VCPUS', 'MEMORY', 'DISK', 'NAMES'], withUse.map((u) => [
          u.user,
          String(u.uid),
          u.raptor ?? '-',
          of(u.use.vms, u.quota.vms),
          of(u.use.vcpus, u.quota.vcpus),
          of(u.use.memoryBytes, u.quota.memoryBytes, formatSize),
          of(u.use.diskBytes, u.quota.diskBytes, formatSize),
          u.vms.join(', ') || '-',
        ])));
      }
    });

  // ---- host ----
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
        out('');
        printPlan(r.plan, ctx.config.libvirt_uri);
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
      const configPath = g(cmd).config ?? process.env.RAPTOR_CONFIG;
      const lines = await hostCheck(ctxFor(cmd), configPath ? { configPath } : {});
      if (g(cmd).json) printJson(lines);
      else printChecks(lines);
      if (lines.some((l) => !l.ok)) throw new QuietExit(1);
    });
}
