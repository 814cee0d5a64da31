// Failure injection for tests: RAPTOR_FAILPOINT=fail:<step-kind> makes that step's apply throw
// (so the applier undoes what came before); after:<step-kind> is the crash test's kill (service/vm.ts).
import { RaptorError } from '../core/errors.ts';
import type { Executors, StepExecutor } from './apply.ts';

export function withInjectedFailure(executors: Executors, spec = process.env.RAPTOR_FAILPOINT): Executors {
  const kind = /^fail:([a-z-]+)$/.exec(spec ?? '')?.[1];
  if (!kind || !(kind in executors)) return executors;
  const ex = executors[kind as keyof Executors] as StepExecutor;
  const failing: StepExecutor = {
    ...ex,
    apply: async () => {
      throw new RaptorError('unexpected', `injected failure in ${kind} (RAPTOR_FAILPOINT=${spec})`);
    },
  };
  return { ...executors, [kind]: failing };
}
