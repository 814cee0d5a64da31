// The account part of `vm create --ssh-key`: the owner's host account as steps of the create
// plan itself, so a dry run shows them and a failing account step undoes the VM too.
import type { CreatePlan } from '../plan/planner.ts';
import type { AccountChange } from './account-plan.ts';

export type VmCreatePlan = CreatePlan & { account?: AccountChange };

/**
 * The account steps go after the VM's volume, seed, definition and DNS, before it starts: a
 * failure there undoes a VM that never ran, whose fresh volume holds nothing to wipe.
 */
export function withAccountSteps(plan: CreatePlan, account: AccountChange): VmCreatePlan {
  const at = plan.steps.findIndex((s) => s.kind === 'domain-start');
  const steps = at < 0 ? [...plan.steps, ...account.steps] : [...plan.steps.slice(0, at), ...account.steps, ...plan.steps.slice(at)];
  return { ...plan, steps, account };
}
