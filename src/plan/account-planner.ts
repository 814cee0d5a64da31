// The pure planners for accounts and host files: an observation in, the steps (each with why it is
// needed) and what they amount to out. Every refusal is thrown here, before any step runs.
import { conflict, notAllowed, notFound } from '../core/errors.ts';
import { ensurePolkitAccessDriver, ACCESS_DRIVERS_LINE } from '../access/libvirt-conf.ts';
import { isSystemUid, NOBODY_UID, type UidRange } from '../access/login-defs.ts';
import { AUTHORIZED_KEYS_MODE, mergeAuthorizedKeys, SSH_DIR_MODE, type SshPublicKey } from '../access/ssh-keys.ts';
import type { Account, AccountRecord, AuthorizedKeysFile, Group } from '../access/account-types.ts';
import type { AccountStep } from './account-steps.ts';

/** What the host holds for one user, looked at under the host lock. */
export interface AccountObservation {
  user: string;
  account?: Account;
  /** the existing account's groups, by name */
  groups: string[];
  /** when there is no account: a group of the same name (useradd would refuse) */
  sameNameGroup?: Group;
  userGroupExists: boolean;
  record: AccountRecord;
  uidRange: UidRange;
  /** the existing account's authorized_keys (when keys were given) */
  keysFile?: AuthorizedKeysFile;
  /** when there is no account: the home useradd would make, and whether a directory is there already */
  newHome?: { path: string; exists: boolean };
}

export interface AccountRequest {
  group: string;
  recordPath: string;
  keys: SshPublicKey[];
  addExisting: boolean;
  by: string;
  at: string;
}

export interface AccountSummary {
  groupCreated: boolean;
  accountCreated: boolean;
  addedToGroup: boolean;
  keysAdded: SshPublicKey[];
  keysPresent: SshPublicKey[];
  modesFixed: string[];
  /** the file the keys go to, when the account exists already */
  authorizedKeys: string | null;
}

export interface AccountPlan {
  steps: AccountStep[];
  summary: AccountSummary;
}

/** Refuse root, nobody and every uid outside the host's ordinary range. */
export function requireOrdinary(acct: Account, range: UidRange): void {
  if (isSystemUid(acct.uid, range)) {
    throw notAllowed(
      `${acct.name} is a system account (uid ${acct.uid}; ordinary accounts here are uids ${range.uidMin}-${range.uidMax} per ${range.source}, never ${NOBODY_UID}); raptor only manages VM users' accounts`,
    );
  }
}

const oct = (m: number): string => `0${m.toString(8)}`;

/** `user add` (and the account part of `vm create --ssh-key`): the account in the group with these keys. */
export function planAccount(obs: AccountObservation, req: AccountRequest): AccountPlan {
  const { user, account } = obs;
  const { group } = req;
  if (account) requireOrdinary(account, obs.uidRange);
  const inGroup = account ? obs.groups.includes(group) : false;
  if (account && !inGroup && !req.addExisting) {
    throw notAllowed(
      `${user} is an existing account (uid ${account.uid}) outside ${group}; making it a VM user is a privilege change (it may then use libvirt): pass --add-existing to add it to ${group}`,
    );
  }
  if (!account && obs.sameNameGroup) {
    throw conflict(`there is no account ${user} but a group ${user} (gid ${obs.sameNameGroup.gid}) exists, so useradd would refuse; remove the group or pick another name`);
  }
  const steps: AccountStep[] = [];
  const summary: AccountSummary = { groupCreated: false, accountCreated: false, addedToGroup: false, keysAdded: [], keysPresent: [], modesFixed: [], authorizedKeys: null };
  if (!obs.userGroupExists) {
    steps.push({ kind: 'group-create', group, why: `${group} does not exist: its members are the VM users polkit lets use their own VMs` });
    summary.groupCreated = true;
  }
  const rec = { record: req.recordPath, by: req.by, at: req.at };
  if (!account) {
    const home = obs.newHome ?? { path: `/home/${user}`, exists: false };
    const kept = home.exists ? ` (${home.path} exists already: useradd leaves it as it is, and so does an undo)` : '';
    steps.push({ kind: 'account-create', user, group, ...rec, home: home.path, keepHome: home.exists, why: `there is no account ${user}; the owner of ${user}-* VMs needs one in ${group}${kept}` });
    summary.accountCreated = true;
  } else if (!inGroup) {
    steps.push({ kind: 'group-add-member', user, uid: account.uid, group, ...rec, why: `${user} exists outside ${group} and --add-existing asks to make it a VM user` });
    summary.addedToGroup = true;
  }
  if (req.keys.length === 0) return { steps, summary };
  if (!account) {
    summary.keysAdded = req.keys;
    steps.push({ kind: 'keys-install', user, path: `~${user}/.ssh/authorized_keys`, keys: req.keys, fixModes: [], why: `the new account gets the key${req.keys.length === 1 ? '' : 's'} given` });
    return { steps, summary };
  }
  const kf = obs.keysFile ?? { path: `${account.home}/.ssh/authorized_keys` };
  const dir = kf.path.replace(/\/authorized_keys$/, '');
  const merge = mergeAuthorizedKeys(kf.text ?? '', req.keys);
  const modesFixed: string[] = [];
  if (kf.dirMode !== undefined && kf.dirMode !== SSH_DIR_MODE) modesFixed.push(`${dir} ${oct(kf.dirMode)} -> ${oct(SSH_DIR_MODE)}`);
  if (kf.fileMode !== undefined && kf.fileMode !== AUTHORIZED_KEYS_MODE) modesFixed.push(`${kf.path} ${oct(kf.fileMode)} -> ${oct(AUTHORIZED_KEYS_MODE)}`);
  Object.assign(summary, { keysAdded: merge.added, keysPresent: merge.present, modesFixed, authorizedKeys: kf.path });
  if (merge.added.length || modesFixed.length) {
    const why = [
      ...(merge.added.length ? [`${merge.added.length} of the ${req.keys.length} key(s) given ${merge.added.length === 1 ? 'is' : 'are'} not in it yet`] : []),
      ...(modesFixed.length ? ['sshd ignores keys others may change'] : []),
    ].join('; ');
    steps.push({ kind: 'keys-install', user, path: kf.path, keys: merge.added, fixModes: modesFixed, why });
  }
  return { steps, summary };
}

export interface RemoveObservation {
  user: string;
  account?: Account;
  groups: string[];
  /** the VMs named after the user */
  vms: string[];
  record: AccountRecord;
  uidRange: UidRange;
}

export interface RemoveRequest {
  group: string;
  recordPath: string;
  /** the record's path as the config names it, for messages */
  recordName: string;
  purge: boolean;
  /** NixOS / declarative accounts: check only, the record is not consulted */
  declarative: boolean;
}

/** `user remove`: the refusals in the order an admin would ask them, then one step. */
export function planAccountRemove(obs: RemoveObservation, req: RemoveRequest): { steps: AccountStep[] } {
  const { user, account } = obs;
  const { group } = req;
  if (!account) throw notFound(`no account ${user}`);
  requireOrdinary(account, obs.uidRange);
  if (!obs.groups.includes(group)) throw notAllowed(`${user} is not in ${group}: raptor only removes the accounts of VM users`);
  if (obs.vms.length) throw conflict(`${user} still owns ${obs.vms.join(', ')}: destroy them first (raptor vm destroy), then remove the account`);
  if (req.declarative) return { steps: [] };
  const entry = obs.record.accounts.find((e) => e.user === user && e.uid === account.uid);
  if (entry?.how !== 'created') {
    const why = entry?.how === 'added' ? `raptor only added the existing account ${user} to ${group} (--add-existing, ${entry.at})` : `raptor did not create ${user} (uid ${account.uid}; not in ${req.recordName})`;
    throw notAllowed(`${why}, so it will not delete it; to take it out of ${group} only: gpasswd --delete ${user} ${group}`);
  }
  return {
    steps: [{ kind: 'account-remove', user, uid: account.uid, purge: req.purge, record: req.recordPath, why: `raptor created ${user} (${entry.at}) and it owns no VM any more` }],
  };
}

export interface HostInitObservation {
  userGroupExists: boolean;
  /** the admin groups that exist */
  adminGroups: string[];
  rules: { path: string; shown: string; current?: string };
  /** each libvirt daemon config: where it is, as the config names it, its text and mode */
  confs: { path: string; shown: string; text?: string; mode?: number }[];
}

export interface HostInitRequest {
  userGroup: string;
  adminGroups: string[];
  rules: string;
}

export type InitStatus = 'ok' | 'changed' | 'would change';

export interface InitItem {
  item: string;
  status: InitStatus;
  detail: string;
}

export interface HostInitPlan {
  steps: AccountStep[];
  /** every item, in order; each that is not ok has its step */
  items: { item: string; ok: boolean; detail: string; todo: string; done: string }[];
  /** the daemon configs the plan changes (libvirt reads them only at start) */
  changedConfs: string[];
}

/** `host init`: the user group, the polkit rules, access_drivers in every daemon config. */
export function planHostInit(obs: HostInitObservation, req: HostInitRequest): HostInitPlan {
  const steps: AccountStep[] = [];
  const items: HostInitPlan['items'] = [];
  if (obs.userGroupExists) items.push({ item: `group ${req.userGroup}`, ok: true, detail: 'exists', todo: '', done: '' });
  else {
    steps.push({ kind: 'group-create', group: req.userGroup, why: `${req.userGroup} does not exist: polkit's rules give its members their own VMs` });
    items.push({ item: `group ${req.userGroup}`, ok: false, detail: '', todo: 'missing: would be created', done: 'created' });
  }
  items.push({
    item: 'admin groups',
    ok: true,
    detail: obs.adminGroups.length ? `present: ${obs.adminGroups.join(', ')} (raptor does not create admin groups)` : `none of ${req.adminGroups.join(', ')} exists; only root is an admin`,
    todo: '',
    done: '',
  });
  const rules = obs.rules;
  if (rules.current === req.rules) items.push({ item: `polkit rules ${rules.shown}`, ok: true, detail: 'current', todo: '', done: '' });
  else {
    const state = rules.current === undefined ? 'missing' : 'differs from the rendered rules';
    steps.push({ kind: 'host-file-write', path: rules.path, what: 'polkit rules', text: req.rules, mode: 0o644, why: `${rules.shown} ${state}: polkit decides every libvirt call of ${req.userGroup} by it` });
    items.push({ item: `polkit rules ${rules.shown}`, ok: false, detail: '', todo: `${state}: would be written`, done: `${state}: written (polkitd reloads it by itself)` });
  }
  const changedConfs: string[] = [];
  for (const conf of obs.confs) {
    const edit = ensurePolkitAccessDriver(conf.text ?? '');
    if (!edit.changed) {
      items.push({ item: `libvirt ${conf.shown}`, ok: true, detail: 'access_drivers has "polkit"', todo: '', done: '' });
      continue;
    }
    const before = edit.before ? `access_drivers is [${edit.before.join(', ')}]` : 'no access_drivers';
    const setting = /^[ \t]*access_drivers[^\n]*$/m.exec(edit.text)?.[0]?.trim() ?? ACCESS_DRIVERS_LINE;
    steps.push({ kind: 'host-file-write', path: conf.path, what: 'libvirt daemon config', text: edit.text, mode: conf.mode ?? 0o644, setting, why: `in ${conf.shown}, ${before}: without the polkit driver every user libvirt lets in may do everything` });
    changedConfs.push(conf.shown);
    items.push({ item: `libvirt ${conf.shown}`, ok: false, detail: '', todo: `${before}: would get ${ACCESS_DRIVERS_LINE}`, done: `${before}: now has ${ACCESS_DRIVERS_LINE}` });
  }
  return { steps, items, changedConfs };
}
