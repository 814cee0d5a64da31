// Plans and allocations as the `--json` of `vm create|destroy --dry-run` prints them; the HTTP API answers the same.
import type { CreatePlan } from '../plan/planner.ts';
import { stepCommands, stepTitle, stepWhy, type Step } from '../plan/steps.ts';
import type { AccountResult } from './access.ts';

export function planJson(plan: { steps: Step[] }, uri: string) {
  return plan.steps.map((s) => ({
    kind: s.kind,
    title: stepTitle(s),
    commands: stepCommands(s, uri),
    ...(stepWhy(s) ? { why: stepWhy(s) } : {}),
    ...(s.kind === 'domain-define' ? { xml: s.xml } : {}),
    ...(s.kind === 'seed-write' ? { path: s.path, metaData: s.metaData, userData: s.userData } : {}),
  }));
}

export function allocationOf(plan: CreatePlan) {
  return {
    cpuset: plan.spec.vcpuPins,
    emulatorCpuset: plan.spec.emulatorSet,
    bridge: plan.spec.network?.bridge ?? null,
    mac: plan.spec.network?.mac ?? null,
    volume: `${plan.names.lvPath}`,
    nvram: plan.names.nvram,
    seed: plan.spec.seed,
  };
}

export const accountJson = (a: AccountResult) => ({ user: a.user, create: a.accountCreated, addToGroup: a.addedToGroup, keysToAdd: a.keysAdded.map((k) => k.fingerprint), ...(a.nixos ? { nixos: a.nixos } : {}) });
