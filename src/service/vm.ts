// VM service functions: the one place front ends (CLI now, HTTP later) call to act on VMs.
import { randomUUID } from 'node:crypto';
import { authorize } from './authorize.ts';
import { actorHv, actsForAnother } from './as-actor.ts';
import { roleOf } from '../access/permissions.ts';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Actor } from '../core/actor.ts';
import type { Config } from '../core/config.ts';
import { notFound, RaptorError } from '../core/errors.ts';
import { domainName, tryParseVmId, type VmId } from '../core/naming.ts';
import { Virsh } from '../libvirt/virsh.ts';
import type { Hypervisor } from '../libvirt/hypervisor.ts';
import { parseDomainXml } from '../libvirt/domain-xml.ts';
import { Lvm } from '../storage/lvm.ts';
import type { Volumes } from '../storage/volumes.ts';
import { hostBlockDevices, type BlockDevices } from '../storage/devices.ts';
import { withRaptorErrors } from './host-errors.ts';
import { acquireHostLock } from '../host/lock.ts';
import { appendAudit, prepareAuditLog } from '../host/audit.ts';
import { runCommand, type Runner } from '../host/runner.ts';
import { applyPlan, ApplyError, type StepReport } from '../plan/apply.ts';
import { hostExecutors, waitForShutOff, type ExecutorDeps } from '../plan/executors.ts';
import { observeDomains, observeHost } from '../plan/observe.ts';
import { namesFor, planCreate, planDestroy, type CreateRequest, type DestroyFacts, type DestroyPlan, type ObservedDomain } from '../plan/planner.ts';
import { stepTitle, type Step } from '../plan/steps.ts';
import type { ProgressListener } from '../plan/events.ts';
import { LogTail } from '../host/log-tail.ts';
import { inspectImageFile } from '../storage/image.ts';
import { ensureSeedDir } from '../storage/seed.ts';
import type { DnsTransport } from '../dns/client.ts';
import { observeVmDns, openDns } from '../dns/service.ts';
import type { HostState } from '../plan/planner.ts';
import type { DnsQuestions } from '../plan/dns-steps.ts';
import { ShadowAccounts, type Accounts } from '../access/accounts.ts';
import { NodeHostFiles, type HostFiles } from '../host/host-files.ts';
import type { SshPublicKey } from '../access/ssh-keys.ts';
import { withInjectedFailure } from '../plan/failpoints.ts';
import { withAccountSteps, type VmCreatePlan } from './vm-account.ts';
import { planAccountChange } from './account-plan.ts';

export interface Context {
  config: Config;
  run: Runner;
  /** libvirt; its failures arrive as RaptorErrors with libvirt's error as the cause */
  hv: Hypervisor;
  volumes: Volumes;
  /** who holds a block device, and zeroing it */
  devices: BlockDevices;
  /** whether this process may change the host (root; stand-in adapters can be changed by anyone) */
  privileged: boolean;
  /** host accounts, groups, raptor's account record, users' authorized_keys */
  accounts: Accounts;
  /** the host's own files (polkit rules, libvirt daemon configs, login.defs) */
  files: HostFiles;
  /** the command line as typed, for the audit log */
  commandLine: string;
  /** who this call acts for: authorize() judges them, the audit log names them */
  actor: Actor;
}

/** `host`: stand-ins for the host's adapters (unit tests); the real ones otherwise. */
export function createContext(
  config: Config,
  commandLine: string,
  actor: Actor,
  run: Runner = runCommand,
  host: { hv?: Hypervisor; volumes?: Volumes; devices?: BlockDevices; accounts?: Accounts; files?: HostFiles; privileged?: boolean } = {},
): Context {
  return {
    actor,
    config,
    run,
    hv: withRaptorErrors(host.hv ?? new Virsh(run, config.libvirt_uri)),
    volumes: host.volumes ?? new Lvm(run, config.storage.lvm_command),
    devices: host.devices ?? hostBlockDevices,
    privileged: host.privileged ?? process.getuid?.() === 0,
    accounts: host.accounts ?? new ShadowAccounts(run, config.access.accounts_file),
    files: host.files ?? new NodeHostFiles(),
    commandLine,
  };
}

/** Crash-test failpoint: RAPTOR_FAILPOINT=after:<step-kind> kills raptor (SIGKILL) right after that step. */
function failpoint(step: Step): void {
  const fp = process.env.RAPTOR_FAILPOINT;
  if (fp && fp === `after:${step.kind}`) process.kill(process.pid, 'SIGKILL');
}

/** Run a changing command under the host lock (parallel raptor processes queue here). */
export async function withHostLock<T>(ctx: Context, onWait: (() => void) | undefined, fn: () => Promise<T>): Promise<T> {
  const onRepair = (msg: string) => process.stderr.write(`raptor: ${msg}\n`);
  const lock = await acquireHostLock(ctx.config.lock_file, { timeoutS: 600, run: ctx.run, onRepair, ...(onWait ? { onWait } : {}) });
  try {
    // a refused audit log (loose modes, foreign owner) stops the command before it changes anything
    prepareAuditLog(ctx.config.audit_log, onRepair);
    return await fn();
  } finally {
    lock.release();
  }
}

let dnsClient: Promise<DnsTransport> | undefined;
/**
 * One DNS client per process, opened (key read) on first use. A failed open is forgotten, so the
 * next call (a fixed key file, say, in a long-running server) tries again.
 */
export function dnsFor(ctx: Context): Promise<DnsTransport> {
  if (!dnsClient) {
    const opening = openDns(ctx.config);
    dnsClient = opening;
    opening.catch(() => {
      if (dnsClient === opening) dnsClient = undefined;
    });
  }
  return dnsClient;
}

/**
 * Plan with what the planner asks of DNS: a first plan names the VM's DNS questions (they depend
 * on its bridge), the server is asked them, and the second plan has the exact DNS changes.
 */
async function planWithDns<P extends { dnsQuestions?: DnsQuestions }>(ctx: Context, host: HostState, plan: (h: HostState) => P): Promise<P> {
  const first = plan(host);
  if (!first.dnsQuestions) return first;
  const again = plan({ ...host, dns: await observeVmDns(await dnsFor(ctx), first.dnsQuestions) });
  if (again.dnsQuestions) throw new RaptorError('unexpected', 'DNS planning: the plan still asks for DNS answers after they were given');
  return again;
}

export interface ApplyOutcome<P> {
  plan: P;
  reports: StepReport[];
}

/** A create request before its new domain has a UUID (the service picks one); `account`: --ssh-key's host account. */
export type NewVmRequest = Omit<CreateRequest, 'uuid'> & { uuid?: string; account?: { keys: SshPublicKey[]; addExisting: boolean } };

/** Observe the host (and DNS, for the VM's names) and plan; a dry run gets the same refusals as a real create. */
export async function planVmCreate(ctx: Context, req: NewVmRequest, opts: { dryRun?: boolean } = { dryRun: true }): Promise<VmCreatePlan> {
  authorize(ctx, 'vm create', domainName(req.vm));
  // the account's refusals (system account, existing outside the group) come first, as they always did
  const account = req.account ? await planAccountChange(ctx, req.vm.user, req.account.keys, { addExisting: req.account.addExisting, dryRun: Boolean(opts.dryRun) }) : undefined;
  const host = await observeHost(ctx.config, ctx.hv, ctx.volumes);
  const full = { ...req, uuid: req.uuid ?? randomUUID() };
  const now = new Date();
  const plan = await planWithDns(ctx, host, (h) => planCreate(ctx.config, full, h, now));
  return account ? withAccountSteps(plan, account) : plan;
}

function auditApply(ctx: Context, steps: Step[], result: 'ok' | 'failed' | 'undone', error?: unknown, extra: Record<string, unknown> = {}): void {
  appendAudit(ctx.config.audit_log, ctx.actor, {
    ...extra,
    command: ctx.commandLine,
    plan: steps.map(stepTitle),
    result,
    ...(error !== undefined ? { error: error instanceof Error ? error.message : String(error) } : {}),
  });
}

/** Apply a plan made under the host lock; one audit entry (with `audit`'s fields) either way. */
export async function runApply<P extends { steps: Step[]; dnsQuestions?: DnsQuestions }>(
  ctx: Context,
  plan: P,
  deps: Partial<Pick<ExecutorDeps, 'wipe'>>,
  onEvent?: ProgressListener,
  audit: Record<string, unknown> = {},
): Promise<ApplyOutcome<P>> {
  // a plan still waiting for DNS answers has no DNS step: applying it would skip DNS silently
  if (plan.dnsQuestions) throw new RaptorError('unexpected', 'refusing to apply a plan made without the DNS answers it needs');
  const executors = hostExecutors({
    run: ctx.run,
    hv: ctx.hv,
    volumes: ctx.volumes,
    devices: ctx.devices,
    wipe: deps.wipe ?? { stepBytes: 256 * 1024 * 1024, offload: true, verify: 'sample' },
    dns: () => dnsFor(ctx),
    config: ctx.config,
    accounts: ctx.accounts,
    files: ctx.files,
  });
  try {
    // plans are made under the host lock from a fresh observation: what is done is not in them
    const reports = await applyPlan(plan.steps, withInjectedFailure(executors), { afterStep: failpoint, ...(onEvent ? { onEvent } : {}) });
    auditApply(ctx, plan.steps, 'ok', undefined, audit);
    return { plan, reports };
  } catch (err) {
    if (err instanceof ApplyError) {
      const undone = err.reports.some((r) => r.status === 'undone');
      auditApply(ctx, plan.steps, undone ? 'undone' : 'failed', err.cause, audit);
      const cause = err.cause instanceof RaptorError ? err.cause : new RaptorError('unexpected', err.message, { cause: err.cause });
      const suffix = undone ? ' (finished steps were undone)' : '';
      const undoFail = err.undoErrors.length ? `; undo also failed: ${(err.undoErrors[0] as Error).message}` : '';
      throw new RaptorError(cause.kind, `${cause.message}${suffix}${undoFail}`, { cause: err });
    }
    throw err;
  }
}

export async function createVm(
  ctx: Context,
  req: NewVmRequest,
  opts: { onWait?: () => void; onEvent?: ProgressListener } = {},
): Promise<ApplyOutcome<VmCreatePlan>> {
  authorize(ctx, 'vm create', domainName(req.vm));
  return withHostLock(ctx, opts.onWait, async () => {
    // DNS is observed here too, under the lock: a conflict is refused before the first change
    const plan = await planVmCreate(ctx, req, { dryRun: false });
    // the account record is written by the account steps: its directory must be root's first
    if (plan.account && !plan.account.result.nixos) await ctx.accounts.prepareRecord();
    // a seed directory others could write is refused before the first change, not halfway
    const seed = plan.steps.find((s) => s.kind === 'seed-write');
    if (seed?.kind === 'seed-write') ensureSeedDir(dirname(seed.path));
    return runApply(ctx, plan, {}, opts.onEvent, req.ignoreQuota ? { ignoreQuota: true } : {});
  });
}

export async function planVmDestroy(ctx: Context, vm: VmId): Promise<DestroyPlan> {
  authorize(ctx, 'vm destroy', domainName(vm));
  const names = namesFor(ctx.config, vm);
  const observe = async () => {
    const host = await observeHost(ctx.config, ctx.hv, ctx.volumes);
    const domain = host.domains.find((d) => d.name === names.domain);
    const facts: DestroyFacts = {
      nvramExists: existsSync(names.nvram),
      ...(domain ? { persistent: (await ctx.hv.persistent(names.domain)) ?? false } : {}),
    };
    // the holders are looked for after LVM and libvirt answered, so the own qemu is recognized
    const hasLv = host.lvs.some((l) => l.name === names.lv);
    const use = hasLv ? ctx.devices.holders(names.lvPath, { ownDomain: names.domain }) : undefined;
    if (use) facts.volumeUse = use;
    if (hasLv && !use) facts.deviceMissing = true;
    return { host, facts, use };
  };
  let seen = await observe();
  const lv = seen.host.lvs.find((l) => l.name === names.lv);
  // LVM said open but nothing holds it: the domain's qemu may have stopped in between; look again
  if (lv?.open && seen.use?.holders.length === 0) {
    await new Promise((r) => setTimeout(r, 500));
    seen = await observe();
  }
  return planWithDns(ctx, seen.host, (h) => planDestroy(ctx.config, vm, h, ctx.config.shutdown_timeout_s, seen.facts));
}

export async function destroyVm(
  ctx: Context,
  vm: VmId,
  opts: {
    onWait?: () => void;
    onEvent?: ProgressListener;
    wipe: { offload: boolean; verify: 'sample' | 'full'; stepBytes: number };
  },
): Promise<ApplyOutcome<DestroyPlan>> {
  authorize(ctx, 'vm destroy', domainName(vm));
  return withHostLock(ctx, opts.onWait, async () => {
    // every refusal (held volume, another domain's disk) comes from the planner, before any change
    const plan = await planVmDestroy(ctx, vm);
    try {
      return await runApply(ctx, plan, { wipe: opts.wipe }, opts.onEvent);
    } catch (err) {
      throw halfwayFailure(err, plan);
    }
  });
}

/** After a change, a destroy failure is never exit 3 (that means nothing changed): say how far it got. */
function halfwayFailure(err: unknown, plan: DestroyPlan): unknown {
  const reports = err instanceof RaptorError && err.cause instanceof ApplyError ? err.cause.reports : undefined;
  const done = reports?.filter((r) => r.status === 'done').length ?? 0;
  if (!(err instanceof RaptorError) || done === 0) return err;
  const kind = err.kind === 'conflict' ? 'unexpected' : err.kind;
  return new RaptorError(kind, `${err.message} (destroy stopped after ${done} of ${plan.steps.length} steps: run raptor vm destroy ${plan.names.domain} again)`, { cause: err });
}

// ---- reading ---------------------------------------------------------------------------------

export interface VmInfo {
  name: string;
  user: string | null;
  managed: boolean;
  state: string;
  vcpus: number;
  cpuset: number[];
  emulatorCpuset: number[];
  memoryMiB: number;
  disk: { volume: string; path: string; sizeBytes: number | null } | null;
  network: { bridge: string; mac: string; ipv4: string | null; ipv6: string | null } | null;
  fqdn: string | null;
  createdAt: string | null;
  /** when `raptor vm reap` destroys it; null: never */
  expires: string | null;
  /** when `raptor vm adopt` took over a domain made by hand */
  adoptedAt: string | null;
  /** what it was made from (raptor's metadata): a catalogue image name or a path, a flavour */
  image: string | null;
  flavor: string | null;
  /** the cloud-init seed attached to it, if any */
  seed: string | null;
}

/** A VM's disk size, as the size of its block device: no LVM process, and readable by vm-users too. */
export function diskSizeOf(path: string): number | null {
  try {
    const dev = basename(realpathSync(path));
    return Number(readFileSync(`/sys/class/block/${dev}/size`, 'utf8').trim()) * 512;
  } catch {
    return null; // an inactive LV has no device node
  }
}

export function vmInfo(config: Config, d: ObservedDomain, sizeOf: (path: string) => number | null = diskSizeOf): VmInfo {
  const id = tryParseVmId(d.name);
  const p = d.parsed;
  const names = id ? namesFor(config, id) : undefined;
  const diskPath = names?.lvPath ?? p.disks[0]?.path;
  const net = p.interfaces[0];
  const bridgeCfg = net ? config.bridges.find((b) => b.name === net.bridge) : undefined;
  return {
    name: d.name,
    user: id?.user ?? null,
    managed: id !== undefined,
    state: d.state,
    vcpus: p.vcpus,
    cpuset: p.vcpuPins,
    emulatorCpuset: p.emulatorSet,
    memoryMiB: p.memoryMiB,
    disk: diskPath
      ? { volume: names ? `${config.storage.vg}/${names.lv}` : diskPath, path: diskPath, sizeBytes: sizeOf(diskPath) }
      : null,
    network: net
      ? { bridge: net.bridge, mac: net.mac, ipv4: bridgeCfg?.ipv4 ?? null, ipv6: bridgeCfg?.ipv6 ?? null }
      : null,
    fqdn: names && config.dns.enabled ? names.fqdn : null,
    createdAt: p.metadata?.createdAt ?? null,
    expires: p.metadata?.expires ?? null,
    adoptedAt: p.metadata?.adoptedAt ?? null,
    image: p.metadata?.image ?? null,
    flavor: p.metadata?.flavor ?? null,
    seed: p.seed,
  };
}

export async function listVms(ctx: Context, user?: string): Promise<VmInfo[]> {
  const domains = await observeDomains(actorHv(ctx));
  return domains
    .map((d) => vmInfo(ctx.config, d))
    .filter((v) => user === undefined || v.user === user)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function showVm(ctx: Context, vm: VmId): Promise<VmInfo> {
  const name = domainName(vm);
  const state = await actorHv(ctx).state(name);
  if (state === undefined) throw notFound(`VM ${name} not found`);
  return vmInfo(ctx.config, { name, state, parsed: parseDomainXml(await actorHv(ctx).dumpXml(name)) });
}

export async function requireDomain(ctx: Context, vm: VmId): Promise<string> {
  const name = domainName(vm);
  if ((await actorHv(ctx).state(name)) === undefined) throw notFound(`VM ${name} not found`);
  return name;
}

/** Attach this terminal to the VM's console, as the actor (libvirt's open-device permission decides). */
export async function attachConsole(ctx: Context, vm: VmId): Promise<void> {
  const name = await requireDomain(ctx, vm);
  await actorHv(ctx).attachConsole(name);
}

export async function startVm(ctx: Context, vm: VmId): Promise<'started' | 'already running'> {
  const name = await requireDomain(ctx, vm);
  if ((await actorHv(ctx).state(name)) === 'running') return 'already running';
  await actorHv(ctx).start(name);
  return 'started';
}

export async function stopVm(ctx: Context, vm: VmId, force: boolean): Promise<'stopped' | 'already stopped' | 'forced off'> {
  const name = await requireDomain(ctx, vm);
  if ((await actorHv(ctx).state(name)) === 'shut off') return 'already stopped';
  if (force) {
    await actorHv(ctx).destroy(name);
    return 'forced off';
  }
  await actorHv(ctx).shutdown(name);
  if (!(await waitForShutOff(actorHv(ctx), name, ctx.config.shutdown_timeout_s * 1000))) {
    throw new RaptorError('unexpected', `VM ${name} did not shut down within ${ctx.config.shutdown_timeout_s} s (use --force to power it off)`);
  }
  return 'stopped';
}

export async function rebootVm(ctx: Context, vm: VmId, force: boolean): Promise<'rebooted' | 'reset'> {
  const name = await requireDomain(ctx, vm);
  if ((await actorHv(ctx).state(name)) !== 'running') throw new RaptorError('conflict', `VM ${name} is not running`);
  if (force) {
    await actorHv(ctx).reset(name);
    return 'reset';
  }
  await actorHv(ctx).reboot(name);
  return 'rebooted';
}

// ---- images and the console log ------------------------------------------------------------

export interface ImageInfo {
  path: string;
  format: 'raw' | 'qcow2';
  virtualSize: number;
}

/** A regular file holding one self-contained raw or qcow2 layer (storage/image.ts); anything else is bad input. */
export async function inspectImage(ctx: Context, path: string): Promise<ImageInfo> {
  return { path: resolve(path), ...(await inspectImageFile(ctx.run, path)) };
}

export interface ConsoleLine {
  /** milliseconds since the wait began */
  ms: number;
  text: string;
}

/** The console log of a VM (written by virtlogd; root-only, so this is an admin's view). */
export function consoleLogPath(ctx: Context, vm: VmId): string {
  return namesFor(ctx.config, vm).consoleLog;
}

export function readConsoleLog(ctx: Context, vm: VmId): string {
  const path = consoleLogPath(ctx, vm);
  // a root process acting for a non-admin must not read for them what root alone may read
  if (actsForAnother(ctx) && roleOf(ctx.actor, ctx.config.access) !== 'admin') throw new RaptorError('not-allowed', `the console log ${path} is readable by admins only`);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw notFound(`no console log for ${domainName(vm)} at ${path} (it appears when the VM starts)`);
    if (code === 'EACCES') throw new RaptorError('not-allowed', `the console log ${path} is readable by admins only`);
    throw err;
  }
}

/** Wait until a console line matches; each line is stamped with when it was first seen. */
export async function waitForConsole(ctx: Context, vm: VmId, re: RegExp, timeoutS: number): Promise<{ match: ConsoleLine; lines: ConsoleLine[] }> {
  return waitForLogLine(consoleLogPath(ctx, vm), re, timeoutS, `the console of ${domainName(vm)}`);
}

/** Wait until a line of the log at `path` matches, reading only what was added since the last look. */
export async function waitForLogLine(path: string, re: RegExp, timeoutS: number, what: string, pollMs = 100): Promise<{ match: ConsoleLine; lines: ConsoleLine[] }> {
  const t0 = Date.now();
  const lines: ConsoleLine[] = [];
  let partial = '';
  // virtlogd creates the file when the guest starts, and a new one when it restarts
  const tail = new LogTail(path);
  try {
    for (;;) {
      const parts = (partial + (await tail.read())).split(/\r?\n/);
      partial = parts.pop() ?? '';
      for (const t of parts) {
        const line = { ms: Date.now() - t0, text: t.replace(/\r/g, '') };
        lines.push(line);
        if (re.test(line.text)) return { match: line, lines };
      }
      if (Date.now() - t0 > timeoutS * 1000) {
        const last = [...lines.map((l) => l.text), partial].filter((l) => l.trim()).slice(-5);
        throw new RaptorError('unexpected', `timed out after ${timeoutS} s waiting for /${re.source}/ on ${what}; last console lines:\n${last.map((l) => `  ${l}`).join('\n') || '  (nothing)'}`);
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    await tail.close();
  }
}
