// The one seam between the HTTP API and raptor's service layer: every service call the server
// makes is here, with the actor it is made for. The app (app.ts) sees only the WebService shape,
// so its tests run on an in-memory fake and the real one is driven against the sandbox.
import type { Actor } from '../core/actor.ts';
import type { Config } from '../core/config.ts';
import { badInput, notAllowed } from '../core/errors.ts';
import { domainName, parseVmId, type VmId } from '../core/naming.ts';
import { parseExpiry } from '../core/expiry.ts';
import { parseSize } from '../core/size.ts';
import { runCommand, type Runner } from '../host/runner.ts';
import { parsePublicKeys, uniqueKeys } from '../access/ssh-keys.ts';
import { stepTitle, type Step } from '../plan/steps.ts';
import { addUser, ensureAccount, hostCheck, listUsers } from '../service/access.ts';
import { cloudInitFor, resolveImage, resolveSizes } from '../service/images.ts';
import { pendingOf, usageOf } from '../service/lab.ts';
import { createContext, createVm, destroyVm, listVms, planVmCreate, planVmDestroy, rebootVm, showVm, startVm, stopVm, type Context, type NewVmRequest } from '../service/vm.ts';
import { allocationOf, planJson } from './plan-json.ts';
import type { CreateVmBody } from './schemas.ts';
import type { ConsoleOpener } from './console.ts';
import { openConsoleStream, requireVisible } from '../service/console.ts';

/** Who a request acts for: the signed-in account as the host's database has it. */
export type { Actor };

/** What an operation reports while it runs: plan steps and byte counts (wipe, image). */
export type ProgressEvent =
  | { type: 'step'; status: 'started' | 'finished' | 'skipped' | 'undone' | 'failed'; step: string; title: string; index: number; count: number; ms?: number; error?: string }
  | { type: 'bytes'; step: string; index: number; phase: 'image' | 'wipe' | 'verify'; done: number; total: number };

export type PowerVerb = 'start' | 'stop' | 'reboot';

/** The service calls behind the API; results are the CLI's --json shapes. */
export interface WebService {
  listVms(actor: Actor): Promise<unknown[]>;
  showVm(actor: Actor, vm: VmId): Promise<unknown>;
  power(actor: Actor, vm: VmId, verb: PowerVerb, force: boolean): Promise<{ vm: string; result: string }>;
  /** Plan a create without changing anything: refusals (400/409) come from here. */
  planCreate(actor: Actor, body: CreateVmBody): Promise<unknown>;
  createVm(actor: Actor, body: CreateVmBody, onEvent: (e: ProgressEvent) => void): Promise<unknown>;
  planDestroy(actor: Actor, vm: VmId): Promise<unknown>;
  destroyVm(actor: Actor, vm: VmId, onEvent: (e: ProgressEvent) => void): Promise<unknown>;
  hostCheck(actor: Actor): Promise<unknown>;
  /** `user list --json` (admins): the page's users view */
  listUsers?(actor: Actor): Promise<unknown[]>;
}

/** How progress reached the service before typed events: step callbacks and byte counts, turned into events. */
function stepReporter(onEvent: (e: ProgressEvent) => void) {
  let steps: Step[] = [];
  const indexOf = (s: Step) => Math.max(0, steps.indexOf(s));
  return {
    setPlan(p: Step[]) {
      steps = p;
    },
    onStep(s: Step, st: string) {
      if (steps.length === 0) steps = [s];
      const status = st === 'start' ? 'started' : st === 'skipped' ? 'skipped' : 'finished';
      onEvent({ type: 'step', status, step: s.kind, title: stepTitle(s), index: indexOf(s), count: steps.length });
    },
    current(): Step | undefined {
      return steps[0];
    },
  };
}

/** The real service, for a server running as root on the host. */
export function hostWebService(config: Config, opts: { configPath?: string; run?: Runner } = {}): WebService {
  const run = opts.run ?? runCommand;
  const line = (actor: Actor, what: string) => `${what} (http, web user ${actor.user})`;
  /** Reads and interactions: as the user, so libvirt's polkit rules decide exactly as for their virsh. */
  const asUser = (actor: Actor, what: string): Context => createContext(config, line(actor, what), actor, run); // the service layer runs libvirt as ctx.actor (as-actor.ts)
  /** Admin-only changes: in the server (root), after the app's authorize. */
  const asServer = (actor: Actor, what: string): Context => createContext(config, line(actor, what), actor, run);

  async function createRequest(ctx: Context, body: CreateVmBody, vm: VmId) {
    const sizes = resolveSizes(ctx.config, {
      ...(body.flavor !== undefined ? { flavor: body.flavor } : {}),
      ...(body.cpus !== undefined ? { cpus: body.cpus } : {}),
      ...(body.memory !== undefined ? { memory: body.memory } : {}),
      ...(body.disk !== undefined ? { disk: body.disk } : {}),
    });
    // keys come as text only: the server reads no file a request names
    const sshKeys = uniqueKeys((body.sshKeys ?? []).flatMap((k, i) => parsePublicKeys(k, `sshKeys.${i}`)));
    const req: NewVmRequest = {
      vm,
      cpus: sizes.cpus,
      memoryBytes: sizes.memoryBytes,
      diskBytes: sizes.diskBytes,
      ...(body.bridge !== undefined ? { bridge: body.bridge } : {}),
      noNetwork: body.network === false,
      start: Boolean(body.start),
      ...(body.expires !== undefined ? { expires: parseExpiry(body.expires, new Date()).toISOString() } : {}),
      cloudInit: cloudInitFor(vm, sshKeys, undefined),
    };
    if (body.image !== undefined) {
      // a catalogue name only: a path would let a web session read any file the server can
      if (!ctx.config.images.some((i) => i.name === body.image)) throw badInput(`image ${body.image} is not in the catalogue (${ctx.config.images.map((i) => i.name).join(', ') || 'none configured'})`);
      const image = await resolveImage(ctx, body.image);
      req.image = image.info;
      req.madeFrom = { image: image.madeFrom };
    }
    if (sizes.flavor !== undefined) req.madeFrom = { ...req.madeFrom, flavor: sizes.flavor };
    return { req, sshKeys };
  }

  return {
    async listVms(actor) {
      return listVms(asUser(actor, 'GET /api/v1/vms'));
    },
    async showVm(actor, vm) {
      const ctx = asUser(actor, `GET /api/v1/vms/${domainName(vm)}`);
      const info = await showVm(ctx, vm);
      return { ...info, pending: await pendingOf(ctx, vm, info.state) };
    },
    async power(actor, vm, verb, force) {
      const ctx = asUser(actor, `POST /api/v1/vms/${domainName(vm)}/${verb}`);
      const result = verb === 'start' ? await startVm(ctx, vm) : verb === 'stop' ? await stopVm(ctx, vm, force) : await rebootVm(ctx, vm, force);
      return { vm: domainName(vm), result };
    },
    async planCreate(actor, body) {
      const vm = parseVmId(body.id);
      const ctx = asServer(actor, 'POST /api/v1/vms (dry run)');
      const { req, sshKeys } = await createRequest(ctx, body, vm);
      const account = sshKeys.length ? await ensureAccount(ctx, vm.user, sshKeys, { dryRun: true }) : undefined;
      const plan = await planVmCreate(ctx, req);
      return {
        dryRun: true,
        vm: plan.names.domain,
        allocation: allocationOf(plan),
        steps: planJson(plan, config.libvirt_uri),
        xml: plan.xml,
        ...(account ? { account: { user: account.user, create: account.accountCreated, addToGroup: account.addedToGroup, keysToAdd: account.keysAdded.map((k) => k.fingerprint) } } : {}),
      };
    },
    async createVm(actor, body, onEvent) {
      const vm = parseVmId(body.id);
      const ctx = asServer(actor, 'POST /api/v1/vms');
      const { req, sshKeys } = await createRequest(ctx, body, vm);
      if (sshKeys.length) await ensureAccount(ctx, vm.user, sshKeys, { dryRun: true });
      const steps = stepReporter(onEvent);
      const t0 = Date.now();
      const { plan, reports } = await createVm(ctx, req, { onStep: steps.onStep });
      const account = sshKeys.length ? await addUser(ctx, vm.user, sshKeys) : undefined;
      return {
        created: plan.names.domain,
        resumed: plan.resumed,
        allocation: allocationOf(plan),
        steps: reports.map((r) => ({ kind: r.step.kind, status: r.status, ms: Math.round(r.ms) })),
        createdMs: Date.now() - t0,
        ...(account ? { account: { user: account.user, created: account.accountCreated, keysAdded: account.keysAdded.length } } : {}),
      };
    },
    async planDestroy(actor, vm) {
      const plan = await planVmDestroy(asServer(actor, `DELETE /api/v1/vms/${domainName(vm)} (dry run)`), vm);
      return { dryRun: true, vm: plan.names.domain, steps: planJson(plan, config.libvirt_uri) };
    },
    async destroyVm(actor, vm, onEvent) {
      const ctx = asServer(actor, `DELETE /api/v1/vms/${domainName(vm)}`);
      const steps = stepReporter(onEvent);
      const stepBytes = parseSize(config.storage.wipe_step, 'storage.wipe_step');
      const { plan, reports } = await destroyVm(ctx, vm, {
        onStep: steps.onStep,
        wipe: {
          offload: true,
          verify: 'sample',
          stepBytes,
          onProgress: (p) => onEvent({ type: 'bytes', step: 'lv-wipe', index: 0, phase: p.phase === 'zero' ? 'wipe' : 'verify', done: p.done, total: p.total }),
        },
      });
      return { destroyed: plan.names.domain, steps: reports.map((r) => ({ kind: r.step.kind, status: r.status, ms: Math.round(r.ms) })) };
    },
    async listUsers(actor) {
      const ctx = asServer(actor, 'GET /api/v1/users');
      const users = await listUsers(ctx);
      const usage = await usageOf(ctx, users.map((u) => u.user));
      return users.map((u) => ({ ...u, ...usage.get(u.user) }));
    },
    async hostCheck(actor) {
      return hostCheck(asServer(actor, 'GET /api/v1/host/check'), opts.configPath ? { configPath: opts.configPath } : {});
    },
  };
}

/** Refuse what only admins may do; the app calls it before it reads the body. */
export function isAdmin(actor: Pick<Actor, 'uid' | 'groups'>, config: Config): boolean {
  return actor.uid === 0 || config.access.admin_groups.some((g) => actor.groups.includes(g));
}

export function authorizeAdmin(actor: Actor, config: Config, what: string): void {
  if (!isAdmin(actor, config)) throw notAllowed(`${what} needs an admin (root or a member of ${config.access.admin_groups.join('/')}); vm-users may only list, show, start, stop and reboot their own VMs`);
}

/** The console, opened as the signed-in user through the service layer (libvirt decides, as for their virsh console). */
export function hostConsoles(config: Config, run: Runner = runCommand): ConsoleOpener {
  const ctx = (actor: Actor, vm: VmId) => createContext(config, `console ${domainName(vm)} (http, web user ${actor.user})`, actor, run);
  return {
    open: (actor, vm) => openConsoleStream(ctx(actor, vm), vm),
    check: (actor, vm) => requireVisible(ctx(actor, vm), vm),
  };
}
