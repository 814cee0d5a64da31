// Accounts and access: the service functions behind `raptor user …` and `raptor host init|check`
// (docs/access.md). Each change is a plan of steps (plan/account-steps.ts) made by a pure planner
// from an observation under the host lock and run by the applier, which undoes it on failure.
import { accessSync, constants, existsSync, lstatSync, statSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { notFound, badInput } from '../core/errors.ts';
import { tryParseVmId, validateUser } from '../core/naming.ts';
import { type AccountRecord } from '../access/account-record.ts';
import { recordedEntry } from '../access/account-record.ts';
import { describeFile, trustedPathProblems } from '../host/trusted-files.ts';
import { dropInPath, renderConfinementDropIn } from '../access/confinement.ts';
import { daemonView, libvirtDaemons } from '../access/daemon-view.ts';
import { AUDIT_MAX_MODE } from '../host/audit.ts';
import { RECORD_MODE } from '../access/account-record.ts';
import { hasPolkitAccessDriver, ACCESS_DRIVERS_LINE } from '../access/libvirt-conf.ts';
import { nixosHostConfig, nixosInstructions } from '../access/nixos.ts';
import { renderPolkitRules } from '../access/polkit-rules.ts';
import { looksLikePrivateKey, parsePublicKeys, PRIVATE_KEY_WARNING, SUPPORTED_KEY_TYPES, uniqueKeys, type SshPublicKey } from '../access/ssh-keys.ts';
import { checkZones, openDns } from '../dns/service.ts';
import { firmwareSuggestion, loaderPaths } from '../libvirt/domain-caps.ts';
import { runApply, withHostLock, type Context } from './vm.ts';
import { authorize } from './authorize.ts';
import { actorHv } from './as-actor.ts';
import { roleOf } from '../access/permissions.ts';
import { domainCheckLines } from './adopt.ts';
import { processStartMs } from '../host/process-start.ts';
import { quoteInput } from '../core/quote.ts';
import { MAX_KEY_FILE_BYTES, readBoundedText } from '../host/files.ts';
import type { Step } from '../plan/steps.ts';
import { planHostInit, type InitItem } from '../plan/account-planner.ts';
import { hostPath, isNixos, planAccountChange, planRemoveChange, type AccessContext, type AccountResult } from './account-plan.ts';

export { describeAccount, hostPath, isNixos, uidRange, vmsOf, type AccessContext, type AccountResult } from './account-plan.ts';
export type { InitItem, InitStatus } from '../plan/account-planner.ts';

/** Apply account and host-file steps (already planned under the host lock); audited, undone on failure. */
async function applySteps(ctx: Context, steps: Step[]): Promise<void> {
  // the record is written by these steps: its directory must be root's before the first change
  if (steps.some((s) => s.kind === 'account-create' || s.kind === 'group-add-member' || s.kind === 'account-remove')) await ctx.accounts.prepareRecord();
  await runApply(ctx, { steps }, {});
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

export interface AddUserResult extends AccountResult {
  /** the steps, in order (empty: nothing to change) */
  plan: Step[];
}

/**
 * Make sure USER has an account in the user group with these keys (docs/access.md, "accounts"):
 * plans from what the host holds (every refusal before the first change), then, unless `dryRun`,
 * applies the plan. Validate keys (readSshKeyArgs) before calling. Takes no lock: call it while
 * holding the host lock (addUser does).
 */
export async function ensureAccount(ctx: AccessContext, user: string, keys: SshPublicKey[], opts: { dryRun?: boolean; addExisting?: boolean } = {}): Promise<AddUserResult> {
  const { steps, result } = await planAccountChange(ctx, user, keys, opts);
  if (!opts.dryRun && !result.nixos) await applySteps(ctx, steps);
  if (!opts.dryRun && result.accountCreated && keys.length > 0) {
    const made = await ctx.accounts.user(user);
    if (made) result.authorizedKeys = join(made.home, '.ssh', 'authorized_keys');
  }
  return { ...result, plan: steps };
}

/** `raptor user add`: planned and applied under the host lock; a dry run only plans. */
export async function addUser(ctx: AccessContext, user: string, keys: SshPublicKey[], opts: { dryRun?: boolean; addExisting?: boolean } = {}): Promise<AddUserResult> {
  validateUser(user);
  authorize(ctx, 'user add');
  if (opts.dryRun || (await isNixos(ctx)) || ctx.config.access.declarative_users) return ensureAccount(ctx, user, keys, { ...opts, dryRun: Boolean(opts.dryRun) });
  return withHostLock(ctx, undefined, () => ensureAccount(ctx, user, keys, { addExisting: Boolean(opts.addExisting) }));
}

export interface RemoveResult {
  user: string;
  removed: boolean;
  homeRemoved: boolean;
  dryRun: boolean;
  nixos?: string;
  refused?: string;
  /** the steps, in order */
  plan: Step[];
}

/** `raptor user remove`: refuses while the user owns VMs (exit 3); home kept unless purge. */
export async function removeUser(ctx: AccessContext, user: string, opts: { purge?: boolean; dryRun?: boolean } = {}): Promise<RemoveResult> {
  validateUser(user);
  authorize(ctx, 'user remove');
  const purge = Boolean(opts.purge);
  const declarative = (await isNixos(ctx)) || ctx.config.access.declarative_users;
  if (declarative) {
    await planRemoveChange(ctx, user, { purge, declarative: true });
    return {
      ...(ctx.config.access.declarative_users ? { refused: `accounts on this host are declared in its NixOS configuration (users.mutableUsers = false): raptor removed nothing; delete users.users.${user} and run nixos-rebuild switch` } : {}),
      user,
      removed: false,
      homeRemoved: false,
      dryRun: Boolean(opts.dryRun),
      nixos: `# This is NixOS (/etc/NIXOS exists): raptor changed nothing. Delete users.users.${user} from\n# /etc/nixos/configuration.nix, then run: nixos-rebuild switch${purge ? `\n# (the home directory stays; remove it by hand if it should go)` : ''}\n`,
      plan: [],
    };
  }
  if (opts.dryRun) {
    const plan = await planRemoveChange(ctx, user, { purge, declarative: false });
    return { user, removed: false, homeRemoved: false, dryRun: true, plan };
  }
  return withHostLock(ctx, undefined, async () => {
    const plan = await planRemoveChange(ctx, user, { purge, declarative: false });
    await applySteps(ctx, plan);
    return { user, removed: true, homeRemoved: purge, dryRun: false, plan };
  });
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
  const { accounts } = ctx;
  const group = await accounts.group(ctx.config.access.user_group);
  if (!group) return [];
  // a read for the actor: libvirt shows them the domains they may see
  const domains = (await actorHv(ctx).list()).map((d) => d.name).sort();
  // the record is root's: others list without it
  let record: AccountRecord = { version: 1, accounts: [] };
  if (process.geteuid?.() === 0 && roleOf(ctx.actor, ctx.config.access) === 'admin') record = await accounts.readRecord();
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
export async function libvirtDaemonConfigs(ctx: AccessContext): Promise<string[]> {
  const explicit = ctx.config.access.libvirt_daemon_configs;
  if (explicit) return explicit;
  const modular = (await ctx.files.list(hostPath(ctx, '/etc/libvirt'))).filter((f) => MODULAR_DAEMON_RE.test(f)).map((f) => `/etc/libvirt/${f}`);
  const out: string[] = [];
  for (const p of ['/etc/libvirt/libvirtd.conf', ...modular]) if (await ctx.files.stat(hostPath(ctx, p))) out.push(p);
  return out;
}


export interface InitResult {
  dryRun: boolean;
  changed: boolean;
  items: InitItem[];
  /** a daemon config changed: libvirt reads it only at start */
  restartNeeded: boolean;
  restart: { done: boolean; detail: string } | null;
  nixos?: string;
  /** the steps, in order (empty: the host was set up) */
  plan: Step[];
}

/** Plan `host init` from what the host holds now (pure planner: plan/account-planner.ts). */
async function planInit(ctx: AccessContext, dry: boolean): Promise<{ steps: Step[]; items: InitItem[]; changedConfs: string[] }> {
  const access = ctx.config.access;
  const { accounts, files } = ctx;
  const confs = await libvirtDaemonConfigs(ctx);
  if (confs.length === 0) {
    throw notFound(`no libvirt daemon config found (/etc/libvirt/libvirtd.conf, /etc/libvirt/virt*d.conf): set access.libvirt_daemon_configs in the raptor config`);
  }
  const adminGroups: string[] = [];
  for (const g of access.admin_groups) if (await accounts.group(g)) adminGroups.push(g);
  const rulesPath = hostPath(ctx, access.polkit_rules_file);
  const current = await files.read(rulesPath);
  const observedConfs = [];
  for (const conf of confs) {
    const path = hostPath(ctx, conf);
    const text = await files.read(path);
    const st = await files.stat(path);
    observedConfs.push({ path, shown: conf, ...(text !== undefined ? { text } : {}), ...(st ? { mode: st.mode & 0o777 } : {}) });
  }
  const plan = planHostInit(
    {
      userGroupExists: (await accounts.group(access.user_group)) !== undefined,
      adminGroups,
      rules: { path: rulesPath, shown: access.polkit_rules_file, ...(current !== undefined ? { current } : {}) },
      confs: observedConfs,
    },
    { userGroup: access.user_group, adminGroups: access.admin_groups, rules: renderPolkitRules(access) },
  );
  const items: InitItem[] = plan.items.map((i) => (i.ok ? { item: i.item, status: 'ok', detail: i.detail } : { item: i.item, status: dry ? 'would change' : 'changed', detail: dry ? i.todo : i.done }));
  return { steps: plan.steps, items, changedConfs: plan.changedConfs };
}

/** `raptor host init`: polkit rules, access_drivers in libvirt's daemon configs, the user group. Idempotent. */
export async function hostInit(ctx: AccessContext, opts: { dryRun?: boolean; restart?: boolean } = {}): Promise<InitResult> {
  authorize(ctx, 'host init');
  const access = ctx.config.access;
  if (await isNixos(ctx)) {
    return {
      dryRun: Boolean(opts.dryRun),
      changed: false,
      items: [],
      restartNeeded: false,
      restart: null,
      nixos: nixosInstructions('groups, polkit rules and libvirtd.conf', nixosHostConfig(access.user_group, renderPolkitRules(access))),
      plan: [],
    };
  }
  const dry = Boolean(opts.dryRun);
  const run = async (): Promise<InitResult> => {
    const { steps, items, changedConfs } = await planInit(ctx, dry);
    if (!dry) await runApply(ctx, { steps }, {});
    const restartNeeded = changedConfs.length > 0;
    let restart: InitResult['restart'] = null;
    if (restartNeeded && opts.restart && !dry) restart = await restartLibvirt(ctx, changedConfs);
    return { dryRun: dry, changed: steps.length > 0, items, restartNeeded, restart, plan: steps };
  };
  return dry ? run() : withHostLock(ctx, undefined, run);
}

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
    const text = await ctx.files.read(hostPath(ctx, nixConf));
    add('libvirt ACL driver', text !== undefined && hasPolkitAccessDriver(text), `${nixConf} ${text === undefined ? 'missing' : hasPolkitAccessDriver(text) ? 'has access_drivers = [ "polkit" ]' : 'lacks access_drivers = [ "polkit" ]'}`, nixFix);
    // nixos-rebuild switch rewrites that file but leaves libvirtd running with what it read at start
    const pid = Number((await ctx.run(['systemctl', 'show', '--property=MainPID', '--value', 'libvirtd.service'], { okCodes: [0, 1, 4], timeoutMs: 30_000 }).catch(() => ({ stdout: '' }))).stdout.trim());
    const started = pid > 0 ? processStartMs(pid, hostPath(ctx, '/proc')) : undefined;
    if (started !== undefined && text !== undefined) {
      const changed = (await ctx.files.stat(hostPath(ctx, nixConf)))?.mtimeMs ?? 0;
      const stale = changed > started + 1000;
      add('libvirtd read its config', !stale, stale ? `libvirtd (pid ${pid}) started ${new Date(started).toISOString()}, before ${nixConf} changed ${new Date(changed).toISOString()}` : `libvirtd (pid ${pid}) started after ${nixConf} last changed`, 'systemctl restart libvirtd (running guests keep running), or set services.raptor.restartLibvirtd = true');
    }
  } else {
    const confs = await libvirtDaemonConfigs(ctx);
    if (confs.length === 0) add('libvirt ACL driver', false, 'no libvirt daemon config found', 'set access.libvirt_daemon_configs in the raptor config to the daemon\'s config file(s), then run raptor host init');
    for (const conf of confs) {
      let text: string | undefined;
      let why = '';
      try {
        text = await ctx.files.read(hostPath(ctx, conf));
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
    const userGroupGid = (await ctx.accounts.group(access.user_group))?.gid;
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
    const nixRules = await ctx.files.read(hostPath(ctx, '/etc/polkit-1/rules.d/10-nixos.rules'));
    const squash = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean).join('\n');
    // services.raptor installs the rules file itself; a hand-made configuration pastes them into extraConfig
    const moduleOk = (await ctx.files.read(hostPath(ctx, access.polkit_rules_file))) === rules;
    const ok = moduleOk || (nixRules !== undefined && squash(nixRules).includes(squash(rules)));
    add('polkit rules', ok, moduleOk ? `${access.polkit_rules_file} is current` : ok ? '/etc/polkit-1/rules.d/10-nixos.rules holds the current rules' : `neither ${access.polkit_rules_file} (services.raptor) nor security.polkit.extraConfig holds the current rules`, `${nixFix} (or enable services.raptor from raptor's nix/module.nix)`);
  } else {
    let current: string | undefined;
    let why = '';
    try {
      current = await ctx.files.read(hostPath(ctx, access.polkit_rules_file));
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
  const accounts = ctx.accounts;
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
  const suggest = async (): Promise<string> => {
    let loaders: string[] | undefined;
    try {
      loaders = loaderPaths(await ctx.hv.domainCapabilities(cfg.domain_type, cfg.machine));
    } catch {
      loaders = undefined;
    }
    return firmwareSuggestion(loaders);
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
    nixos: await isNixos(ctx),
    nixFix: 'add the output of `raptor host init` to /etc/nixos/configuration.nix and run nixos-rebuild switch',
    opts,
  };
  for (const group of HOST_CHECKS) await group(env);
  // every domain against the house rules, so hand edits that drift show up
  out.push(...(await domainCheckLines(ctx)));
  return out;
}
