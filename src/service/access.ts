// Accounts and access: the service functions behind `raptor user …` and `raptor host init|check`
// (docs/house-rules.md, "accounts" and "access"). Front ends call these; they never shell out themselves.
import { accessSync, constants, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { notAllowed, notFound, conflict, badInput, RaptorError } from '../core/errors.ts';
import { tryParseVmId, validateUser } from '../core/naming.ts';
import { appendAudit } from '../host/audit.ts';
import { Accounts, installAuthorizedKeys, type Account } from '../access/accounts.ts';
import { readAccountRecord, recordedEntry, type AccountRecord, withEntry, withoutUser, writeAccountRecord } from '../access/account-record.ts';
import { DEFAULT_UID_RANGE, isSystemUid, NOBODY_UID, parseLoginDefs, type UidRange } from '../access/login-defs.ts';
import { describeFile, ensureSafeDir, trustedPathProblems } from '../host/trusted-files.ts';
import { dropInPath, renderConfinementDropIn } from '../access/confinement.ts';
import { daemonView, libvirtDaemons } from '../access/daemon-view.ts';
import { AUDIT_MAX_MODE } from '../host/audit.ts';
import { RECORD_MODE } from '../access/account-record.ts';
import { ensurePolkitAccessDriver, hasPolkitAccessDriver, ACCESS_DRIVERS_LINE } from '../access/libvirt-conf.ts';
import { nixosHostConfig, nixosInstructions, nixosUserConfig } from '../access/nixos.ts';
import { renderPolkitRules } from '../access/polkit-rules.ts';
import { looksLikePrivateKey, parsePublicKeys, PRIVATE_KEY_WARNING, SUPPORTED_KEY_TYPES, uniqueKeys, type SshPublicKey } from '../access/ssh-keys.ts';
import { checkZones, openDns } from '../dns/service.ts';
import { withHostLock, type Context } from './vm.ts';
import { authorize } from './authorize.ts';
import { domainCheckLines } from './adopt.ts';
import { processStartMs } from '../host/process-start.ts';
import { quoteInput } from '../core/quote.ts';
import { MAX_KEY_FILE_BYTES, readBoundedText } from '../host/files.ts';

export interface AccessContext extends Context {
  /** where the host's files are ('/' on a real host; a fake root in tests) */
  rootDir?: string;
}

/** A host path under the context's root directory. */
export const hostPath = (ctx: AccessContext, path: string): string => (ctx.rootDir && ctx.rootDir !== '/' ? join(ctx.rootDir, path) : path);

const DECLARATIVE_WHY = 'users.mutableUsers = false (access.declarative_users)';

/** NixOS declares accounts, groups, polkit rules and libvirtd.conf; raptor then prints, not writes. */
export const isNixos = (ctx: AccessContext): boolean => existsSync(hostPath(ctx, '/etc/NIXOS'));

function withLockAndAudit<T>(ctx: Context, what: string, fn: () => Promise<T>, summary: (r: T) => string[]): Promise<T> {
  return withHostLock(ctx, undefined, async () => {
    try {
      const r = await fn();
      appendAudit(ctx.config.audit_log, ctx.actor, { command: ctx.commandLine, plan: [what, ...summary(r)], result: 'ok' });
      return r;
    } catch (err) {
      appendAudit(ctx.config.audit_log, ctx.actor, { command: ctx.commandLine, plan: [what], result: 'failed', error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  });
}

// ---- SSH keys from the command line -------------------------------------------------------------

const startsLikeKeyText = (v: string): boolean =>
  (SUPPORTED_KEY_TYPES as readonly string[]).some((t) => v.startsWith(`${t} `)) || /\s/.test(v.trim()) || looksLikePrivateKey(v);

/**
 * `--ssh-key` values: a key's text, or the path of a file holding keys (a .pub). All are read and
 * validated before anything changes; a bad one is bad input (exit 2), a private key is refused.
 */
export function readSshKeyArgs(values: string[]): SshPublicKey[] {
  const keys: SshPublicKey[] = [];
  for (const v of values) {
    if (startsLikeKeyText(v)) {
      keys.push(...parsePublicKeys(v, '--ssh-key'));
      continue;
    }
    if (!v.includes('/') && !v.endsWith('.pub') && !existsSync(v)) {
      throw badInput(`--ssh-key ${quoteInput(v)}: neither an SSH public key ("TYPE BASE64 [COMMENT]") nor a file`);
    }
    // a regular file of at most MAX_KEY_FILE_BYTES: never a device, FIFO or a whole log
    const text = readBoundedText(v, '--ssh-key', MAX_KEY_FILE_BYTES);
    if (looksLikePrivateKey(text)) throw badInput(`--ssh-key ${quoteInput(v)}: ${PRIVATE_KEY_WARNING}`);
    keys.push(...parsePublicKeys(text, `--ssh-key ${quoteInput(v)}`));
  }
  return uniqueKeys(keys);
}

// ---- accounts -----------------------------------------------------------------------------------

export interface AccountResult {
  user: string;
  dryRun: boolean;
  groupCreated: boolean;
  accountCreated: boolean;
  addedToGroup: boolean;
  keysAdded: SshPublicKey[];
  keysPresent: SshPublicKey[];
  modesFixed: string[];
  authorizedKeys: string | null;
  changed: boolean;
  /** on NixOS: the configuration to add (nothing was changed) */
  nixos?: string;
  /** accounts are declarative here (access.declarative_users): the command refuses (exit 5) after printing `nixos` */
  refused?: string;
}

/** The host's ordinary uid range (login.defs), read where the host's files are. */
export function uidRange(ctx: AccessContext): UidRange {
  const path = hostPath(ctx, '/etc/login.defs');
  const text = readIfExists(path);
  return text === undefined ? DEFAULT_UID_RANGE : parseLoginDefs(text, '/etc/login.defs');
}

function ordinaryAccount(acct: Account, ctx: AccessContext): void {
  const range = uidRange(ctx);
  if (isSystemUid(acct.uid, range)) {
    throw notAllowed(
      `${acct.name} is a system account (uid ${acct.uid}; ordinary accounts here are uids ${range.uidMin}-${range.uidMax} per ${range.source}, never ${NOBODY_UID}); raptor only manages VM users' accounts`,
    );
  }
}

const recordPath = (ctx: AccessContext): string => hostPath(ctx, ctx.config.access.accounts_file);

/**
 * Make sure USER has an account in the user group with these keys (docs/house-rules.md, "accounts"):
 * creates what is missing, adds only keys not already there. An existing account outside the
 * group is a privilege change: refused (exit 5) unless `addExisting`. Validate keys
 * (readSshKeyArgs) before calling. Every refusal comes before the first change; with `dryRun`
 * it only says what it would do (vm create uses that as its pre-check). Takes no lock: call it
 * while holding the host lock.
 */
export async function ensureAccount(ctx: AccessContext, user: string, keys: SshPublicKey[], opts: { dryRun?: boolean; addExisting?: boolean } = {}): Promise<AccountResult> {
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
      ...base,
      keysAdded: keys,
      nixos: nixosInstructions('accounts', nixosUserConfig(user, group, keys), DECLARATIVE_WHY),
      refused: `accounts on this host are declared in its NixOS configuration (users.mutableUsers = false): raptor made no account ${user}; add the lines above and run nixos-rebuild switch`,
    };
  }
  if (isNixos(ctx)) {
    return { ...base, keysAdded: keys, nixos: nixosInstructions('accounts', nixosUserConfig(user, group, keys)) };
  }
  const accounts = new Accounts(ctx.run);
  const result = { ...base };
  // refusals first: the record must be trustworthy, the account ordinary, the privilege change asked for
  const record = readAccountRecord(recordPath(ctx));
  const existing = await accounts.user(user);
  if (existing) ordinaryAccount(existing, ctx);
  const inGroup = existing ? (await accounts.groupsOf(user)).includes(group) : false;
  if (existing && !inGroup && !opts.addExisting) {
    throw notAllowed(
      `${user} is an existing account (uid ${existing.uid}) outside ${group}; making it a VM user is a privilege change (it may then use libvirt): pass --add-existing to add it to ${group}`,
    );
  }
  if (!existing) {
    const sameName = await accounts.group(user);
    if (sameName) throw conflict(`there is no account ${user} but a group ${user} (gid ${sameName.gid}) exists, so useradd would refuse; remove the group or pick another name`);
  }
  if (!opts.dryRun) ensureSafeDir(dirname(recordPath(ctx)), 0o700, 'the account record');

  if (!(await accounts.group(group))) {
    if (!opts.dryRun) await accounts.createGroup(group);
    result.groupCreated = true;
  }
  const by = ctx.actor.user;
  const at = new Date().toISOString();
  if (!existing) {
    if (!opts.dryRun) {
      await accounts.createUser(user, group);
      const made = await accounts.user(user);
      if (!made) throw new RaptorError('unexpected', `useradd succeeded but getent passwd ${user} finds no account`);
      try {
        writeAccountRecord(recordPath(ctx), withEntry(record, { user, uid: made.uid, how: 'created', at, by }));
      } catch (err) {
        // an account raptor cannot remember making must not stay: user remove would refuse it later
        await accounts.removeUser(user, true);
        throw err;
      }
    }
    result.accountCreated = true;
  } else if (!inGroup) {
    if (!opts.dryRun) {
      writeAccountRecord(recordPath(ctx), withEntry(record, { user, uid: existing.uid, how: 'added', at, by }));
      await accounts.addToGroup(user, group);
    }
    result.addedToGroup = true;
  }
  const acct = opts.dryRun ? existing : await accounts.user(user);
  if (acct && keys.length > 0) {
    const inst = installAuthorizedKeys(acct, keys, opts);
    Object.assign(result, { keysAdded: inst.added, keysPresent: inst.present, modesFixed: inst.modesFixed, authorizedKeys: inst.path });
  } else if (!acct) {
    result.keysAdded = keys;
  }
  result.changed = result.groupCreated || result.accountCreated || result.addedToGroup || result.keysAdded.length > 0 || result.modesFixed.length > 0;
  return result;
}

/** `raptor user add`: ensureAccount under the host lock, audited. */
export async function addUser(ctx: AccessContext, user: string, keys: SshPublicKey[], opts: { dryRun?: boolean; addExisting?: boolean } = {}): Promise<AccountResult> {
  validateUser(user);
  authorize(ctx, 'user add');
  if (opts.dryRun || isNixos(ctx) || ctx.config.access.declarative_users) return ensureAccount(ctx, user, keys, opts);
  return withLockAndAudit(ctx, `user add ${user}`, () => ensureAccount(ctx, user, keys, { addExisting: Boolean(opts.addExisting) }), (r) => describeAccount(r));
}

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

export async function vmsOf(ctx: Context, user: string): Promise<string[]> {
  return (await ctx.hv.list())
    .map((d) => d.name)
    .filter((n) => tryParseVmId(n)?.user === user)
    .sort();
}

export interface RemoveResult {
  user: string;
  removed: boolean;
  homeRemoved: boolean;
  dryRun: boolean;
  nixos?: string;
  refused?: string;
}

/** `raptor user remove`: refuses while the user owns VMs (exit 3); home kept unless purge. */
export async function removeUser(ctx: AccessContext, user: string, opts: { purge?: boolean; dryRun?: boolean } = {}): Promise<RemoveResult> {
  validateUser(user);
  authorize(ctx, 'user remove');
  const purge = Boolean(opts.purge);
  const check = async (): Promise<Account> => {
    const accounts = new Accounts(ctx.run);
    const acct = await accounts.user(user);
    if (!acct) throw notFound(`no account ${user}`);
    ordinaryAccount(acct, ctx);
    const group = ctx.config.access.user_group;
    if (!(await accounts.groupsOf(user)).includes(group)) {
      throw notAllowed(`${user} is not in ${group}: raptor only removes the accounts of VM users`);
    }
    const vms = await vmsOf(ctx, user);
    if (vms.length) throw conflict(`${user} still owns ${vms.join(', ')}: destroy them first (raptor vm destroy), then remove the account`);
    if (isNixos(ctx) || ctx.config.access.declarative_users) return acct;
    const entry = recordedEntry(readAccountRecord(recordPath(ctx)), user, acct.uid);
    if (entry?.how !== 'created') {
      const why = entry?.how === 'added' ? `raptor only added the existing account ${user} to ${group} (--add-existing, ${entry.at})` : `raptor did not create ${user} (uid ${acct.uid}; not in ${ctx.config.access.accounts_file})`;
      throw notAllowed(`${why}, so it will not delete it; to take it out of ${group} only: gpasswd --delete ${user} ${group}`);
    }
    return acct;
  };
  if (isNixos(ctx) || ctx.config.access.declarative_users) {
    await check();
    const declarative = ctx.config.access.declarative_users;
    return {
      ...(declarative ? { refused: `accounts on this host are declared in its NixOS configuration (users.mutableUsers = false): raptor removed nothing; delete users.users.${user} and run nixos-rebuild switch` } : {}),
      user,
      removed: false,
      homeRemoved: false,
      dryRun: Boolean(opts.dryRun),
      nixos: `# This is NixOS (/etc/NIXOS exists): raptor changed nothing. Delete users.users.${user} from\n# /etc/nixos/configuration.nix, then run: nixos-rebuild switch${purge ? `\n# (the home directory stays; remove it by hand if it should go)` : ''}\n`,
    };
  }
  if (opts.dryRun) {
    await check();
    return { user, removed: false, homeRemoved: false, dryRun: true };
  }
  return withLockAndAudit(
    ctx,
    `user remove ${user}${purge ? ' --purge' : ''}`,
    async () => {
      await check();
      await new Accounts(ctx.run).removeUser(user, purge);
      const path = recordPath(ctx);
      writeAccountRecord(path, withoutUser(readAccountRecord(path), user));
      return { user, removed: true, homeRemoved: purge, dryRun: false };
    },
    () => [],
  );
}

export interface UserEntry {
  user: string;
  uid: number;
  home: string;
  vms: string[];
  /** what the account record says raptor did: created the account, added it (--add-existing), or null */
  raptor: 'created' | 'added' | null;
}

/** Members of the user group, each with the VMs named after them. */
export async function listUsers(ctx: Context): Promise<UserEntry[]> {
  const accounts = new Accounts(ctx.run);
  const group = await accounts.group(ctx.config.access.user_group);
  if (!group) return [];
  const domains = (await ctx.hv.list()).map((d) => d.name).sort();
  // the record is root's: others list without it
  let record: AccountRecord = { version: 1, accounts: [] };
  if (process.geteuid?.() === 0) record = readAccountRecord(recordPath(ctx as AccessContext));
  const out: UserEntry[] = [];
  for (const name of [...group.members].sort()) {
    const acct = await accounts.user(name);
    const uid = acct?.uid ?? -1;
    out.push({ user: name, uid, home: acct?.home ?? '', vms: domains.filter((d) => tryParseVmId(d)?.user === name), raptor: recordedEntry(record, name, uid)?.how ?? null });
  }
  return out;
}

// ---- host files ---------------------------------------------------------------------------------

const MODULAR_DAEMON_RE = /^virt(?!logd|lockd)[a-z]+d\.conf$/;

/** The libvirt daemon configs that must turn the polkit access driver on (config, else the host's). */
export function libvirtDaemonConfigs(ctx: AccessContext): string[] {
  const explicit = ctx.config.access.libvirt_daemon_configs;
  if (explicit) return explicit;
  const dir = hostPath(ctx, '/etc/libvirt');
  let modular: string[] = [];
  try {
    modular = readdirSync(dir).filter((f) => MODULAR_DAEMON_RE.test(f)).sort().map((f) => `/etc/libvirt/${f}`);
  } catch {
    // no /etc/libvirt: nothing found, host check says so
  }
  return ['/etc/libvirt/libvirtd.conf', ...modular].filter((p) => existsSync(hostPath(ctx, p)));
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Replace a file atomically (temp file in the same directory + rename), keeping its mode. */
function writeAtomic(path: string, text: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.raptor-${process.pid}`);
  try {
    writeFileSync(tmp, text, { mode, flag: 'w' });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export type InitStatus = 'ok' | 'changed' | 'would change';

export interface InitItem {
  item: string;
  status: InitStatus;
  detail: string;
}

export interface InitResult {
  dryRun: boolean;
  changed: boolean;
  items: InitItem[];
  /** a daemon config changed: libvirt reads it only at start */
  restartNeeded: boolean;
  restart: { done: boolean; detail: string } | null;
  nixos?: string;
}

/** `raptor host init`: polkit rules, access_drivers in libvirt's daemon configs, the user group. Idempotent. */
export async function hostInit(ctx: AccessContext, opts: { dryRun?: boolean; restart?: boolean } = {}): Promise<InitResult> {
  authorize(ctx, 'host init');
  const access = ctx.config.access;
  const rules = renderPolkitRules(access);
  if (isNixos(ctx)) {
    return {
      dryRun: Boolean(opts.dryRun),
      changed: false,
      items: [],
      restartNeeded: false,
      restart: null,
      nixos: nixosInstructions('groups, polkit rules and libvirtd.conf', nixosHostConfig(access.user_group, rules)),
    };
  }
  const run = async (): Promise<InitResult> => {
    const dry = Boolean(opts.dryRun);
    const items: InitItem[] = [];
    const touched = (): InitStatus => (dry ? 'would change' : 'changed');
    const accounts = new Accounts(ctx.run);

    if (await accounts.group(access.user_group)) items.push({ item: `group ${access.user_group}`, status: 'ok', detail: 'exists' });
    else {
      if (!dry) await accounts.createGroup(access.user_group);
      items.push({ item: `group ${access.user_group}`, status: touched(), detail: dry ? 'missing: would be created' : 'created' });
    }
    const admins = [];
    for (const g of access.admin_groups) if (await accounts.group(g)) admins.push(g);
    items.push({
      item: 'admin groups',
      status: 'ok',
      detail: admins.length ? `present: ${admins.join(', ')} (raptor does not create admin groups)` : `none of ${access.admin_groups.join(', ')} exists; only root is an admin`,
    });

    const rulesPath = hostPath(ctx, access.polkit_rules_file);
    const current = readIfExists(rulesPath);
    if (current === rules) items.push({ item: `polkit rules ${access.polkit_rules_file}`, status: 'ok', detail: 'current' });
    else {
      if (!dry) writeAtomic(rulesPath, rules, 0o644);
      items.push({ item: `polkit rules ${access.polkit_rules_file}`, status: touched(), detail: `${current === undefined ? 'missing' : 'differs from the rendered rules'}: ${dry ? 'would be written' : 'written (polkitd reloads it by itself)'}` });
    }

    const confs = libvirtDaemonConfigs(ctx);
    if (confs.length === 0) {
      throw notFound(`no libvirt daemon config found (/etc/libvirt/libvirtd.conf, /etc/libvirt/virt*d.conf): set access.libvirt_daemon_configs in the raptor config`);
    }
    let restartNeeded = false;
    const changedConfs: string[] = [];
    for (const conf of confs) {
      const path = hostPath(ctx, conf);
      const text = readIfExists(path) ?? '';
      const edit = ensurePolkitAccessDriver(text);
      if (!edit.changed) {
        items.push({ item: `libvirt ${conf}`, status: 'ok', detail: 'access_drivers has "polkit"' });
        continue;
      }
      if (!dry) writeAtomic(path, edit.text, existsSync(path) ? statSync(path).mode & 0o777 : 0o644);
      restartNeeded = true;
      changedConfs.push(conf);
      items.push({ item: `libvirt ${conf}`, status: touched(), detail: `${edit.before ? `access_drivers is [${edit.before.join(', ')}]` : 'no access_drivers'}: ${dry ? 'would get' : 'now has'} ${ACCESS_DRIVERS_LINE}` });
    }
    const changed = items.some((i) => i.status !== 'ok');
    let restart: InitResult['restart'] = null;
    if (restartNeeded && opts.restart && !dry) restart = await restartLibvirt(ctx, changedConfs);
    return { dryRun: dry, changed, items, restartNeeded, restart };
  };
  if (opts.dryRun) return run();
  return withLockAndAudit(ctx, 'host init', run, (r) => r.items.filter((i) => i.status !== 'ok').map((i) => `${i.item}: ${i.detail}`));
}

/** Restart the daemons whose config changed, when systemd runs them; else say who must. */
export async function restartLibvirt(ctx: AccessContext, confs: string[]): Promise<{ done: boolean; detail: string }> {
  const units = confs.map((c) => `${basename(c, '.conf')}.service`);
  if (!existsSync(hostPath(ctx, '/run/systemd/system'))) {
    return { done: false, detail: `systemd does not run this host's services: restart ${units.map((u) => u.replace('.service', '')).join(', ')} with whatever supervises it` };
  }
  const restarted: string[] = [];
  for (const unit of units) {
    const active = await ctx.run(['systemctl', 'is-active', '--quiet', unit], { okCodes: [0, 3, 4], timeoutMs: 30_000 });
    if (active.code !== 0) continue;
    await ctx.run(['systemctl', 'restart', unit], { timeoutMs: 120_000 });
    restarted.push(unit);
  }
  return restarted.length
    ? { done: true, detail: `restarted ${restarted.join(', ')}` }
    : { done: false, detail: `none of ${units.join(', ')} is active under systemd: restart the libvirt daemon with whatever supervises it` };
}

// ---- host check ---------------------------------------------------------------------------------

export interface CheckLine {
  check: string;
  ok: boolean;
  detail: string;
  fix: string | null;
}

function writableDetail(path: string): { ok: boolean; detail: string } {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  try {
    accessSync(p, constants.W_OK);
    return { ok: true, detail: p === path ? `${path} writable` : `${path} can be created (under ${p})` };
  } catch {
    return { ok: false, detail: `${p} is not writable by uid ${process.getuid?.()}` };
  }
}

/** The files raptor creates, trusts or serializes on, with the widest mode each may have. */
function trustedFiles(ctx: AccessContext, configPath?: string): { what: string; path: string; maxMode: number; why: string; dirIsOthers?: boolean; isDir?: boolean }[] {
  const cfg = ctx.config;
  const out: { what: string; path: string; maxMode: number; why: string; dirIsOthers?: boolean; isDir?: boolean }[] = [
    { what: 'host lock', path: cfg.lock_file, maxMode: 0o600, why: 'only root can open (and so lock) it' },
    { what: 'audit log', path: cfg.audit_log, maxMode: AUDIT_MAX_MODE, why: 'only root can write it' },
    { what: 'account record', path: hostPath(ctx, cfg.access.accounts_file), maxMode: RECORD_MODE, why: 'only root can read or replace it' },
    // its directory is polkit's own (Debian: owned by polkitd, 0700)
    { what: 'polkit rules', path: hostPath(ctx, cfg.access.polkit_rules_file), maxMode: 0o644, why: 'only root can change who may do what', dirIsOthers: true },
  ];
  if (cfg.dns.enabled) out.push({ what: 'TSIG key', path: cfg.dns.tsig_key_file, maxMode: 0o640, why: 'only root (and its group) can read the DNS update key' });
  // qemu must traverse it (0711), but only root may list it or put a seed there
  out.push({ what: 'seed directory', path: hostPath(ctx, cfg.seed_dir), maxMode: 0o711, why: 'only root can write or list the cloud-init seeds', isDir: true });
  // the config names programs raptor runs as root (storage.lvm_command): only root may change it
  if (configPath) out.push({ what: 'config', path: configPath, maxMode: 0o644, why: 'only root can change what raptor runs and trusts' });
  return out;
}

/** libvirt's unix socket for a qemu:///system URI, as the client picks it (modular first). */
function libvirtSockets(ctx: AccessContext): string[] {
  if (!/^qemu:\/\/\/system\b/.test(ctx.config.libvirt_uri)) return [];
  return ['/run/libvirt/virtqemud-sock', '/run/libvirt/libvirt-sock'].filter((p) => existsSync(hostPath(ctx, p)));
}

const errMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** What each group of host checks reads: the context and the one way to add a line. */
export interface CheckEnv {
  ctx: AccessContext;
  cfg: AccessContext['config'];
  access: AccessContext['config']['access'];
  add: (check: string, ok: boolean, detail: string, fix: string) => void;
  nixos: boolean;
  nixFix: string;
  opts: { configPath?: string };
}

// libvirt
async function checkLibvirtReachable({ ctx, cfg, add }: CheckEnv): Promise<void> {
  try {
    const { daemon } = await ctx.hv.version();
    add('libvirt reachable', true, `${cfg.libvirt_uri}${daemon ? ` (daemon ${daemon})` : ''}`, '');
  } catch (err) {
    add('libvirt reachable', false, errMessage(err), `start the libvirt daemon (systemctl start libvirtd, or virtqemud on a modular host) and check libvirt_uri (${cfg.libvirt_uri}) in the raptor config`);
  }
}

// the ACL driver in each daemon config
async function checkAclDriver({ ctx, add, nixos, nixFix }: CheckEnv): Promise<void> {
  if (nixos) {
    // NixOS builds libvirt with sysconfdir /var/lib and copies the generated libvirtd.conf there
    const nixConf = ctx.config.access.libvirt_daemon_configs?.[0] ?? '/var/lib/libvirt/libvirtd.conf';
    const text = readIfExists(hostPath(ctx, nixConf));
    add('libvirt ACL driver', text !== undefined && hasPolkitAccessDriver(text), `${nixConf} ${text === undefined ? 'missing' : hasPolkitAccessDriver(text) ? 'has access_drivers = [ "polkit" ]' : 'lacks access_drivers = [ "polkit" ]'}`, nixFix);
    // nixos-rebuild switch rewrites that file but leaves libvirtd running with what it read at start
    const pid = Number((await ctx.run(['systemctl', 'show', '--property=MainPID', '--value', 'libvirtd.service'], { okCodes: [0, 1, 4], timeoutMs: 30_000 }).catch(() => ({ stdout: '' }))).stdout.trim());
    const started = pid > 0 ? processStartMs(pid, hostPath(ctx, '/proc')) : undefined;
    if (started !== undefined && text !== undefined) {
      const changed = statSync(hostPath(ctx, nixConf)).mtimeMs;
      const stale = changed > started + 1000;
      add('libvirtd read its config', !stale, stale ? `libvirtd (pid ${pid}) started ${new Date(started).toISOString()}, before ${nixConf} changed ${new Date(changed).toISOString()}` : `libvirtd (pid ${pid}) started after ${nixConf} last changed`, 'systemctl restart libvirtd (running guests keep running), or set services.raptor.restartLibvirtd = true');
    }
  } else {
    const confs = libvirtDaemonConfigs(ctx);
    if (confs.length === 0) add('libvirt ACL driver', false, 'no libvirt daemon config found', 'set access.libvirt_daemon_configs in the raptor config to the daemon\'s config file(s), then run raptor host init');
    for (const conf of confs) {
      let text: string | undefined;
      let why = '';
      try {
        text = readIfExists(hostPath(ctx, conf));
      } catch (err) {
        why = errMessage(err);
      }
      const ok = text !== undefined && hasPolkitAccessDriver(text);
      add(`libvirt ACL driver (${conf})`, ok, text === undefined ? why || `${conf} missing` : ok ? 'access_drivers = [ "polkit" ]' : 'no access_drivers = [ "polkit" ]: every user libvirt lets in may do everything', `raptor host init (adds ${ACCESS_DRIVERS_LINE} to ${conf}), then restart the daemon (raptor host init --restart)`);
    }
  }
}

// the socket vm-users connect to
async function checkLibvirtSockets({ ctx, access, add }: CheckEnv): Promise<void> {
  for (const sock of libvirtSockets(ctx)) {
    const st = statSync(hostPath(ctx, sock));
    const mode = st.mode & 0o777;
    const userGroupGid = (await new Accounts(ctx.run).group(access.user_group))?.gid;
    const ok = (mode & 0o006) === 0o006 || (userGroupGid !== undefined && st.gid === userGroupGid && (mode & 0o060) === 0o060);
    add(
      `libvirt socket ${sock}`,
      ok,
      `mode 0${mode.toString(8)}, group gid ${st.gid}${ok ? `: ${access.user_group} can connect (polkit decides what they may do)` : `: ${access.user_group} cannot connect`}`,
      `let everyone reach the socket and polkit decide: unix_sock_rw_perms = "0777" with auth_unix_rw = "polkit" in the daemon config (under systemd socket activation: SocketMode=0666 in a drop-in for ${sock.includes('virtqemud') ? 'virtqemud' : 'libvirtd'}.socket), then restart the daemon`,
    );
  }
}

// polkit rules
async function checkPolkitRules({ ctx, access, add, nixos, nixFix }: CheckEnv): Promise<void> {
  const rules = renderPolkitRules(access);
  if (nixos) {
    const nixRules = readIfExists(hostPath(ctx, '/etc/polkit-1/rules.d/10-nixos.rules'));
    const squash = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean).join('\n');
    // services.raptor installs the rules file itself; a hand-made configuration pastes them into extraConfig
    const moduleOk = readIfExists(hostPath(ctx, access.polkit_rules_file)) === rules;
    const ok = moduleOk || (nixRules !== undefined && squash(nixRules).includes(squash(rules)));
    add('polkit rules', ok, moduleOk ? `${access.polkit_rules_file} is current` : ok ? '/etc/polkit-1/rules.d/10-nixos.rules holds the current rules' : `neither ${access.polkit_rules_file} (services.raptor) nor security.polkit.extraConfig holds the current rules`, `${nixFix} (or enable services.raptor from raptor's nix/module.nix)`);
  } else {
    let current: string | undefined;
    let why = '';
    try {
      current = readIfExists(hostPath(ctx, access.polkit_rules_file));
    } catch (err) {
      why = `cannot read it: ${(err as NodeJS.ErrnoException).code ?? errMessage(err)}${process.getuid?.() !== 0 ? ' (run host check as root)' : ''}`;
    }
    const ok = current === rules;
    add(
      'polkit rules',
      ok,
      `${access.polkit_rules_file} ${ok ? 'is current' : why || (current === undefined ? 'is missing' : 'differs from the rules this config renders')}`,
      `raptor host init (installs ${access.polkit_rules_file}; polkitd reloads it by itself)`,
    );
  }
}

// groups
async function checkGroups({ ctx, access, add, nixos, nixFix }: CheckEnv): Promise<void> {
  const accounts = new Accounts(ctx.run);
  const ug = await accounts.group(access.user_group);
  add(`group ${access.user_group}`, ug !== undefined, ug ? `gid ${ug.gid}, ${ug.members.length} member(s)` : 'missing', nixos ? nixFix : `raptor host init (or: groupadd ${access.user_group})`);
  const present: string[] = [];
  for (const g of access.admin_groups) if (await accounts.group(g)) present.push(g);
  add(
    'admin groups',
    present.length > 0,
    present.length ? `present: ${present.join(', ')}${present.length < access.admin_groups.length ? `; absent: ${access.admin_groups.filter((g) => !present.includes(g)).join(', ')}` : ''}` : `none of ${access.admin_groups.join(', ')} exists`,
    `create one and add the admins: groupadd ${access.admin_groups[0] ?? 'libvirt'} && usermod -aG ${access.admin_groups[0] ?? 'libvirt'} ADMIN`,
  );
}

// firmware
async function checkFirmware({ ctx, cfg, add }: CheckEnv): Promise<void> {
  let loaders: string[] | undefined;
  const suggest = async (): Promise<string> => {
    if (loaders === undefined) {
      try {
        const xml = await ctx.hv.domainCapabilities(cfg.domain_type, cfg.machine);
        const loader = /<loader\b[^>]*>([\s\S]*?)<\/loader>/.exec(xml)?.[1] ?? '';
        loaders = [...loader.matchAll(/<value>([^<]+)<\/value>/g)].map((m) => m[1]!);
      } catch {
        loaders = [];
      }
    }
    return loaders.length ? `; virsh domcapabilities lists: ${loaders.join(', ')}` : '';
  };
  for (const [key, path] of [['firmware.code', cfg.firmware.code], ['firmware.vars', cfg.firmware.vars]] as const) {
    const ok = existsSync(hostPath(ctx, path));
    add(key, ok, `${path} ${ok ? 'present' : 'missing'}`, ok ? '' : `install OVMF with Secure Boot (Debian: apt install ovmf; NixOS: virtualisation.libvirtd.qemu.ovmf.enable) or set ${key} in the raptor config${key === 'firmware.code' ? await suggest() : ' to the VARS template beside the code file (Microsoft keys: *_VARS*.ms.fd)'}`);
  }
}

// LVM
async function checkVolumeGroup({ ctx, cfg, add }: CheckEnv): Promise<void> {
  try {
    const vg = await ctx.volumes.vg(cfg.storage.vg);
    if (!vg) add(`volume group ${cfg.storage.vg}`, false, 'missing', `create it: vgcreate ${cfg.storage.vg} /dev/DEVICE (or set storage.vg in the raptor config)`);
    else {
      const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
      add(`volume group ${cfg.storage.vg}`, vg.freeBytes > 0, `${gib(vg.freeBytes)} free of ${gib(vg.sizeBytes)}`, `no free space: vgextend ${cfg.storage.vg} /dev/DEVICE, or destroy VMs that are no longer needed`);
    }
  } catch (err) {
    add(`volume group ${cfg.storage.vg}`, false, errMessage(err), `check storage.lvm_command (${cfg.storage.lvm_command}) and run host check as root`);
  }
}

// bridges
async function checkBridges({ ctx, cfg, add }: CheckEnv): Promise<void> {
  for (const b of cfg.bridges) {
    const dev = hostPath(ctx, `/sys/class/net/${b.name}`);
    const exists = existsSync(dev);
    const isBridge = exists && existsSync(join(dev, 'bridge'));
    add(`bridge ${b.name}`, isBridge, exists ? (isBridge ? `present (${b.mac}${b.ipv4 ? ` -> ${b.ipv4}` : ''})` : 'present but not a bridge') : 'missing', `create it: ip link add ${b.name} type bridge && ip link set ${b.name} up (and give MAC ${b.mac} its address in the DHCP server), or remove it from [[bridges]]`);
  }
}

// DNS
async function checkDns({ cfg, add }: CheckEnv): Promise<void> {
  if (!cfg.dns.enabled) add('DNS', true, 'turned off (dns.enabled = false)', '');
  else {
    // records come from each bridge's fixed DHCP addresses: without them create publishes nothing
    const bare = cfg.bridges.filter((b) => !b.ipv4 && !b.ipv6).map((b) => b.name);
    add(
      'DNS addresses',
      bare.length === 0,
      bare.length === 0 ? 'every bridge has the address its DHCP server gives its MAC' : `no ipv4/ipv6 for ${bare.join(', ')}: VMs there get no A/AAAA/PTR records`,
      `add ipv4 = "…" and ipv6 = "…" to each [[bridges]] entry (the addresses the DHCP server hands that bridge's MAC), or set dns.enabled = false`,
    );
    const zones = [cfg.dns.zone, ...cfg.dns.reverse_zones];
    try {
      const dns = await openDns(cfg, { timeoutMs: 5000 });
      await checkZones(dns, zones);
      add('DNS', true, `${cfg.dns.server}:${cfg.dns.port} serves ${zones.join(', ')} and accepts the TSIG key in ${cfg.dns.tsig_key_file}`, '');
    } catch (err) {
      add('DNS', false, errMessage(err), `check [dns] in the raptor config (server ${cfg.dns.server}, port ${cfg.dns.port}, zones ${zones.join(', ')}), that ${cfg.dns.tsig_key_file} holds the key the server has for updates (read by root only: chmod 0600), and that the server is running`);
    }
  }
}

// lock and audit
async function checkLockAndAudit({ cfg, add }: CheckEnv): Promise<void> {
  for (const [check, path] of [['lock file', cfg.lock_file], ['audit log', cfg.audit_log]] as const) {
    const w = writableDetail(path);
    add(check, w.ok, w.detail, `run changing commands as root, or make ${dirname(path)} writable for the admins`);
  }
}

// raptor's own files: no one but root may open, lock, replace or fill them
async function checkTrustedFiles({ ctx, add, opts }: CheckEnv): Promise<void> {
  for (const f of trustedFiles(ctx, opts.configPath)) {
    const d = describeFile(f.path);
    const problems = trustedPathProblems(f.path, d.st, f);
    add(
      `file ${f.what}`,
      problems.length === 0,
      `${f.path}: ${d.text}${problems.length ? `; ${problems.map((p) => `${p.path} ${p.problem}`).join('; ')}` : `; ${f.why}`}`,
      problems.map((p) => p.fix).join(' && '),
    );
  }
}

// libvirtd must not open paths ordinary users control (virsh restore FILE opens before its ACL check)
async function checkConfinement({ add, nixos }: CheckEnv): Promise<void> {
  const daemons = libvirtDaemons();
  if (daemons.length === 0) add('libvirtd confinement', true, 'no libvirtd/virtqemud runs on this machine (remote daemon: check it there)', '');
  for (const d of daemons) {
    const v = daemonView(d.pid, d.name);
    const unit = `${d.name}.service`;
    add(
      `libvirtd confinement (${d.name} pid ${d.pid})`,
      v.exposed.length === 0,
      v.exposed.length === 0 ? `confined: its own ${v.hidden.join(', ')}` : `not confined: it sees the host's ${v.exposed.join(', ')}, where any user can make a FIFO that hangs a worker (virsh restore) or probe root-only files`,
      nixos
        ? 'services.raptor confines libvirtd (systemd.services.libvirtd.serviceConfig from nix/libvirtd-confinement.json): nixos-rebuild switch'
        : `write ${dropInPath(unit)} with:\n${renderConfinementDropIn()}then: systemctl daemon-reload && systemctl restart ${unit}`,
    );
  }
}

// the config itself: vm-users read it for their own view
export async function checkConfigReadable({ access, add, opts }: CheckEnv): Promise<void> {
  if (opts.configPath) {
    let mode: number | undefined;
    try {
      mode = lstatSync(opts.configPath).mode & 0o777;
    } catch {
      mode = undefined;
    }
    const ok = mode !== undefined && (mode & 0o004) !== 0;
    add('config readable', ok, `${opts.configPath}${mode !== undefined ? ` mode 0${mode.toString(8)}` : ' missing'}${ok ? '' : `: ${access.user_group} cannot run raptor vm list`}`, `chmod 0644 ${opts.configPath} (it holds no secrets; the TSIG key lives in its own file)`);
  }
}

const HOST_CHECKS = [
  checkLibvirtReachable,
  checkAclDriver,
  checkLibvirtSockets,
  checkPolkitRules,
  checkGroups,
  checkFirmware,
  checkVolumeGroup,
  checkBridges,
  checkDns,
  checkLockAndAudit,
  checkTrustedFiles,
  checkConfinement,
  checkConfigReadable,
];

/** Every rule and dependency raptor relies on, each ok or wrong with the exact fix. */
export async function hostCheck(ctx: AccessContext, opts: { configPath?: string } = {}): Promise<CheckLine[]> {
  const out: CheckLine[] = [];
  const env: CheckEnv = {
    ctx,
    cfg: ctx.config,
    access: ctx.config.access,
    add: (check, ok, detail, fix) => out.push({ check, ok, detail, fix: ok ? null : fix }),
    nixos: isNixos(ctx),
    nixFix: 'add the output of `raptor host init` to /etc/nixos/configuration.nix and run nixos-rebuild switch',
    opts,
  };
  for (const group of HOST_CHECKS) await group(env);
  // every domain against the house rules, so hand edits that drift show up
  out.push(...(await domainCheckLines(ctx)));
  return out;
}
