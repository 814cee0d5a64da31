// The one seam between the HTTP API and raptor's service layer: every service call the server
// makes is here, with the actor it is made for. The app (app.ts) sees only the WebService shape,
// so its tests run on an in-memory fake and the real one is driven against the sandbox.
import type { Config } from '../core/config.ts';
import type { Actor } from '../core/actor.ts';
import { notAllowed } from '../core/errors.ts';
import { domainName, parseVmId, type VmId } from '../core/naming.ts';
import { parseSize } from '../core/size.ts';
import { roleOf } from '../access/permissions.ts';
import { parsePublicKeys, uniqueKeys } from '../access/ssh-keys.ts';
import type { ProgressEvent } from '../plan/events.ts';
import { hostCheck, listUsers } from '../service/access.ts';
import { newVmRequest } from '../service/vm-request.ts';
import { pendingOf, usageOf } from '../service/lab.ts';
import { createContext, createVm, destroyVm, listVms, planVmCreate, planVmDestroy, rebootVm, showVm, startVm, stopVm, type Context } from '../service/vm.ts';
import { accountJson, allocationOf, planJson } from '../service/plan-json.ts';
import type { CreateVmBody } from './schemas.ts';
import type { ConsoleOpener } from './console.ts';
import { openConsoleStream, requireVisible } from '../service/console.ts';

export type { Actor } from '../core/actor.ts';
export type { ProgressEvent } from '../plan/events.ts';

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

/** The real service, for a server running as root on the host; `run` and `host`: stand-ins (unit tests on the fakes). */
export function hostWebService(config: Config, opts: { configPath?: string; run?: Parameters<typeof createContext>[3]; host?: Parameters<typeof createContext>[4] } = {}): WebService {
  const line = (actor: Actor, what: string) => `${what} (http, web user ${actor.user})`;
  // the service runs reads and interactions as the actor (setpriv), so libvirt's polkit rules
  // decide as for the user's own virsh; admin-only changes run in this process after authorize()
  const ctxFor = (actor: Actor, what: string): Context => opts.run ? createContext(config, line(actor, what), actor, opts.run, opts.host ?? {}) : createContext(config, line(actor, what), actor);

  /** The body into what createVm takes, by the service's one translation; keys come as text only. */
  const createRequest = (ctx: Context, body: CreateVmBody, vm: VmId) =>
    newVmRequest(ctx, vm, body, { sshKeys: uniqueKeys(body.sshKeys.flatMap((k, i) => parsePublicKeys(k, `sshKeys.${i}`))), imagePaths: false });

  return {
    async listVms(actor) {
      return listVms(ctxFor(actor, 'GET /api/v1/vms'));
    },
    async showVm(actor, vm) {
      const ctx = ctxFor(actor, `GET /api/v1/vms/${domainName(vm)}`);
      const info = await showVm(ctx, vm);
      return { ...info, pending: await pendingOf(ctx, vm, info.state) };
    },
    async power(actor, vm, verb, force) {
      const ctx = ctxFor(actor, `POST /api/v1/vms/${domainName(vm)}/${verb}`);
      const result = verb === 'start' ? await startVm(ctx, vm) : verb === 'stop' ? await stopVm(ctx, vm, force) : await rebootVm(ctx, vm, force);
      return { vm: domainName(vm), result };
    },
    async planCreate(actor, body) {
      const ctx = ctxFor(actor, 'POST /api/v1/vms (dry run)');
      const plan = await planVmCreate(ctx, await createRequest(ctx, body, parseVmId(body.id)));
      const account = plan.account?.result;
      return {
        dryRun: true,
        vm: plan.names.domain,
        allocation: allocationOf(plan),
        steps: planJson(plan, config.libvirt_uri),
        xml: plan.xml,
        ...(account ? { account: accountJson(account) } : {}),
      };
    },
    async createVm(actor, body, onEvent) {
      const ctx = ctxFor(actor, 'POST /api/v1/vms');
      const t0 = Date.now();
      const { plan, reports } = await createVm(ctx, await createRequest(ctx, body, parseVmId(body.id)), { onEvent });
      const account = plan.account?.result;
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
      const plan = await planVmDestroy(ctxFor(actor, `DELETE /api/v1/vms/${domainName(vm)} (dry run)`), vm);
      return { dryRun: true, vm: plan.names.domain, steps: planJson(plan, config.libvirt_uri) };
    },
    async destroyVm(actor, vm, onEvent) {
      const ctx = ctxFor(actor, `DELETE /api/v1/vms/${domainName(vm)}`);
      const stepBytes = parseSize(config.storage.wipe_step, 'storage.wipe_step');
      const { plan, reports } = await destroyVm(ctx, vm, { onEvent, wipe: { offload: true, verify: 'sample', stepBytes } });
      return { destroyed: plan.names.domain, steps: reports.map((r) => ({ kind: r.step.kind, status: r.status, ms: Math.round(r.ms) })) };
    },
    async listUsers(actor) {
      const ctx = ctxFor(actor, 'GET /api/v1/users');
      const users = await listUsers(ctx);
      const usage = await usageOf(ctx, users.map((u) => u.user));
      return users.map((u) => ({ ...u, ...usage.get(u.user) }));
    },
    async hostCheck(actor) {
      return hostCheck(ctxFor(actor, 'GET /api/v1/host/check'), opts.configPath ? { configPath: opts.configPath } : {});
    },
  };
}

/** An admin by the permission table (root, or a member of an admin group). */
export function isAdmin(actor: Pick<Actor, 'user' | 'uid' | 'groups'>, config: Config): boolean {
  return roleOf(actor, config.access) === 'admin';
}

/** Refuse what only admins may do before the body is read; the service's authorize() judges again. */
export function authorizeAdmin(actor: Actor, config: Config, what: string): void {
  if (!isAdmin(actor, config)) throw notAllowed(`${what} needs an admin (root or a member of ${config.access.admin_groups.join('/')}); vm-users may only list, show, start, stop and reboot their own VMs`);
}

/** The console, opened as the signed-in user through the service layer (libvirt decides, as for their virsh console). */
export function hostConsoles(config: Config): ConsoleOpener {
  const ctx = (actor: Actor, vm: VmId) => createContext(config, `console ${domainName(vm)} (http, web user ${actor.user})`, actor);
  return {
    open: (actor, vm) => openConsoleStream(ctx(actor, vm), vm),
    check: (actor, vm) => requireVisible(ctx(actor, vm), vm),
  };
}
