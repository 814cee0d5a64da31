// A plan as the CLI's --json prints it (`vm create --dry-run --json`): the API answers the same shape.
import type { CreatePlan, DestroyPlan } from '../plan/planner.ts';
import { stepCommands, stepTitle } from '../plan/steps.ts';

export function planJson(plan: CreatePlan | DestroyPlan, uri: string) {
  return plan.steps.map((s) => ({
    kind: s.kind,
    title: stepTitle(s),
    commands: stepCommands(s, uri),
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
