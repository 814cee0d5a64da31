// Accounts as planned steps: observe what the host holds for a user (through ctx.accounts and
// ctx.files), hand it to the pure planner, and say what the plan amounts to. user add, user remove
// and vm create --ssh-key all plan here; the applier (plan/apply.ts) runs and undoes the steps.
import { join } from 'node:path';
import { validateUser, tryParseVmId } from '../core/naming.ts';
import { DEFAULT_UID_RANGE, isSystemUid, parseLoginDefs, type UidRange } from '../access/login-defs.ts';
import { nixosInstructions, nixosUserConfig } from '../access/nixos.ts';
import type { SshPublicKey } from '../access/ssh-keys.ts';
import { planAccount, planAccountRemove, type AccountObservation, type AccountSummary } from '../plan/account-planner.ts';
import type { AccountStep } from '../plan/account-steps.ts';
import type { Context } from './vm.ts';

export interface AccessContext extends Context {
  /** where the host's files are ('/' on a real host; a fake root in tests) */
  rootDir?: string;
}

/** A host path under the context's root directory. */
export const hostPath = (ctx: AccessContext, path: string): string => (ctx.rootDir && ctx.rootDir !== '/' ? join(ctx.rootDir, path) : path);

export const DECLARATIVE_WHY = 'users.mutableUsers = false (access.declarative_users)';

/** NixOS declares accounts, groups, polkit rules and libvirtd.conf; raptor then prints, not writes. */
export const isNixos = async (ctx: AccessContext): Promise<boolean> => (await ctx.files.stat(hostPath(ctx, '/etc/NIXOS'))) !== undefined;

/** The host's ordinary uid range (login.defs), read where the host's files are. */
export async function uidRange(ctx: AccessContext): Promise<UidRange> {
  const text = await ctx.files.read(hostPath(ctx, '/etc/login.defs'));
  return text === undefined ? DEFAULT_UID_RANGE : parseLoginDefs(text, '/etc/login.defs');
}

/** What the account part did (or would do): the planner's summary, and who, whether it was a dry run, whether anything changed. */
export interface AccountResult extends AccountSummary {
  user: string;
  dryRun: boolean;
  changed: boolean;
  /** on NixOS: the configuration to add (nothing was changed) */
  nixos?: string;
  /** accounts are declarative here (access.declarative_users): the command refuses (exit 5) after printing `nixos` */
  refused?: string;
}

export interface AccountChange {
  steps: AccountStep[];
  result: AccountResult;
}

/** What the host holds for `user`: account, groups, record, uid range, its authorized_keys. */
export async function observeAccount(ctx: AccessContext, user: string, withKeys: boolean): Promise<AccountObservation> {
  const { accounts } = ctx;
  // the record first: one others could have written stops everything
  const record = await accounts.readRecord();
  const account = await accounts.user(user);
  const range = await uidRange(ctx);
  const obs: AccountObservation = {
    user,
    groups: account ? await accounts.groupsOf(user) : [],
    userGroupExists: (await accounts.group(ctx.config.access.user_group)) !== undefined,
    record,
    uidRange: range,
  };
  if (account) obs.account = account;
  if (!account) {
    const same = await accounts.group(user);
    if (same) obs.sameNameGroup = same;
    // useradd's HOME base (/etc/default/useradd); a directory already there is not raptor's to delete
    const defaults = (await ctx.files.read(hostPath(ctx, '/etc/default/useradd'))) ?? '';
    const base = /^HOME=(\/\S*)\s*$/m.exec(defaults)?.[1] ?? '/home';
    const path = join(base, user);
    obs.newHome = { path, exists: (await ctx.files.stat(hostPath(ctx, path), { noFollow: true })) !== undefined };
  }
  // a system account's home is never read: the planner refuses it first
  if (account && withKeys && !isSystemUid(account.uid, range)) {
    obs.keysFile = await accounts.readAuthorizedKeys(account);
  }
  return obs;
}

/**
 * The steps that make USER an account in the user group with these keys (docs/access.md): what is
 * missing is created, only new keys are added. An existing account outside the group is refused
 * (exit 5) unless `addExisting`. On NixOS the result holds the configuration and no step.
 */
export async function planAccountChange(ctx: AccessContext, user: string, keys: SshPublicKey[], opts: { addExisting?: boolean; dryRun?: boolean } = {}): Promise<AccountChange> {
  validateUser(user);
  const group = ctx.config.access.user_group;
  const base: AccountResult = {
    user,
    dryRun: Boolean(opts.dryRun),
    groupCreated: false,
    accountCreated: false,
    addedToGroup: false,
    keysAdded: [],
    keysPresent: [],
    modesFixed: [],
    authorizedKeys: null,
    changed: false,
  };
  if (ctx.config.access.declarative_users) {
    return {
      steps: [],
      result: {
        ...base,
        keysAdded: keys,
        nixos: nixosInstructions('accounts', nixosUserConfig(user, group, keys), DECLARATIVE_WHY),
        refused: `accounts on this host are declared in its NixOS configuration (users.mutableUsers = false): raptor made no account ${user}; add the lines above and run nixos-rebuild switch`,
      },
    };
  }
  if (await isNixos(ctx)) return { steps: [], result: { ...base, keysAdded: keys, nixos: nixosInstructions('accounts', nixosUserConfig(user, group, keys)) } };
  const obs = await observeAccount(ctx, user, keys.length > 0);
  const plan = planAccount(obs, { group, recordPath: ctx.config.access.accounts_file, keys, addExisting: Boolean(opts.addExisting), by: ctx.actor.user, at: new Date().toISOString() });
  const s = plan.summary;
  const changed = s.groupCreated || s.accountCreated || s.addedToGroup || s.keysAdded.length > 0 || s.modesFixed.length > 0;
  return { steps: plan.steps, result: { ...base, ...s, changed } };
}

/** The steps of `user remove` (every refusal first); on NixOS only the checks. */
export async function planRemoveChange(ctx: AccessContext, user: string, opts: { purge: boolean; declarative: boolean }): Promise<AccountStep[]> {
  validateUser(user);
  const { accounts } = ctx;
  const account = await accounts.user(user);
  const group = ctx.config.access.user_group;
  const range = await uidRange(ctx);
  const groups = account && !isSystemUid(account.uid, range) ? await accounts.groupsOf(user) : [];
  // VMs and record are looked at only when the account could be removed at all
  const eligible = account !== undefined && !isSystemUid(account.uid, range) && groups.includes(group);
  const vms = eligible ? await vmsOf(ctx, user) : [];
  const record = eligible && vms.length === 0 && !opts.declarative ? await accounts.readRecord() : { version: 1 as const, accounts: [] };
  return planAccountRemove(
    { user, ...(account ? { account } : {}), groups, vms, record, uidRange: range },
    { group, recordPath: ctx.config.access.accounts_file, recordName: ctx.config.access.accounts_file, purge: opts.purge, declarative: opts.declarative },
  ).steps;
}

export async function vmsOf(ctx: Context, user: string): Promise<string[]> {
  return (await ctx.hv.list())
    .map((d) => d.name)
    .filter((n) => tryParseVmId(n)?.user === user)
    .sort();
}

/** What the account part did (or, in a dry run, would do), one line each. */
export function describeAccount(r: AccountResult): string[] {
  const would = r.dryRun ? 'would ' : '';
  const lines: string[] = [];
  if (r.groupCreated) lines.push(`${would}create group`);
  if (r.accountCreated) lines.push(`${would}create account ${r.user}`);
  if (r.addedToGroup) lines.push(`${would}add ${r.user} to the user group`);
  for (const k of r.keysAdded) lines.push(`${would}install key ${k.type} ${k.fingerprint}${k.comment ? ` (${k.comment})` : ''}`);
  for (const k of r.keysPresent) lines.push(`key already installed: ${k.type} ${k.fingerprint}`);
  for (const m of r.modesFixed) lines.push(`${would}fix mode ${m}`);
  return lines;
}
