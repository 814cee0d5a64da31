// `raptor user add|remove|list`: host accounts of VM users.
import type { Command } from 'commander';
import { EXIT_CODES, notAllowed } from '../core/errors.ts';
import { validateUser } from '../core/naming.ts';
import { addUser, describeAccount, listUsers, readSshKeyArgs, removeUser } from '../service/access.ts';
import { ctxFor, g, QuietExit } from './common.ts';
import { usageOf } from '../service/lab.ts';
import { formatSize } from '../core/size.ts';
import { printJson, table } from './output.ts';
import { planJson, printSteps } from './plan-output.ts';
import type { Step } from '../plan/steps.ts';
import { parseRequest, UserAddRequest, UserRemoveRequest } from '../service/schemas.ts';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
};

/** A dry run's plan, numbered, with why and the equivalent commands. */
function printPlan(steps: Step[], uri: string): void {
  if (steps.length === 0) return;
  out('Plan (dry run, nothing changed):');
  printSteps(steps, uri, out);
}

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('host accounts of VM users');
  user
    .command('add')
    .description('create the account (if missing) in the user group and install SSH public keys')
    .argument('<USER>')
    .option('--ssh-key <key|file>', 'an SSH public key, or a .pub file holding some (repeatable)', collect, [] as string[])
    .option('--add-existing', 'USER is an existing account outside the user group: add it (a privilege change: it may then use libvirt); user remove still keeps the account')
    .option('--dry-run', 'say what would change, change nothing')
    .action(async (name: string, o: { sshKey: string[]; dryRun?: boolean; addExisting?: boolean }, cmd: Command) => {
      const req = parseRequest(UserAddRequest, { user: name, sshKeys: o.sshKey, addExisting: Boolean(o.addExisting), dryRun: Boolean(o.dryRun) });
      validateUser(req.user);
      const keys = readSshKeyArgs(req.sshKeys);
      const ctx = ctxFor(cmd);
      const uri = ctx.config.libvirt_uri;
      const r = await addUser(ctx, req.user, keys, { dryRun: req.dryRun, addExisting: req.addExisting });
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
      const req = parseRequest(UserRemoveRequest, { user: name, purge: Boolean(o.purge), dryRun: Boolean(o.dryRun) });
      const ctx = ctxFor(cmd);
      const r0 = await removeUser(ctx, req.user, { purge: req.purge, dryRun: req.dryRun });
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
}
