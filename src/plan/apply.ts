// The applier: runs plan steps in order; a failure undoes the finished steps in reverse
// (a reverter, as Incus calls it). Every step first checks whether it is already done.
import type { Step, StepKind } from './steps.ts';

export interface StepExecutor<S extends Step = Step> {
  isDone(step: S): Promise<boolean>;
  apply(step: S): Promise<void>;
  /** absent: the step cannot be undone (destroy steps only move forward) */
  undo?(step: S): Promise<void>;
}

export type Executors = { [K in StepKind]: StepExecutor<Extract<Step, { kind: K }>> };

export interface StepReport {
  step: Step;
  status: 'done' | 'skipped' | 'undone' | 'failed' | 'not-run';
  ms: number;
}

export interface ApplyHooks {
  /**
   * false when the plan was made from an observation taken under the host lock: the planner has
   * already left out what is done, so asking each step again only costs processes.
   */
  checkDone?: boolean;
  onStep?: (step: Step, status: 'start' | 'done' | 'skipped') => void;
  /** crash-test failpoint: called after each applied step */
  afterStep?: (step: Step) => void;
}

export class ApplyError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly reports: StepReport[],
    readonly undoErrors: unknown[],
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export async function applyPlan(steps: Step[], executors: Executors, hooks: ApplyHooks = {}): Promise<StepReport[]> {
  const reports: StepReport[] = steps.map((step) => ({ step, status: 'not-run', ms: 0 }));
  const applied: number[] = [];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const ex = executors[step.kind] as StepExecutor;
    const t0 = performance.now();
    try {
      if ((hooks.checkDone ?? true) && (await ex.isDone(step))) {
        reports[i]!.status = 'skipped';
        hooks.onStep?.(step, 'skipped');
      } else {
        hooks.onStep?.(step, 'start');
        await ex.apply(step);
        applied.push(i);
        reports[i]!.status = 'done';
        hooks.onStep?.(step, 'done');
      }
      reports[i]!.ms = performance.now() - t0;
      hooks.afterStep?.(step);
    } catch (err) {
      reports[i]!.status = 'failed';
      reports[i]!.ms = performance.now() - t0;
      const undoErrors: unknown[] = [];
      for (const j of applied.reverse()) {
        const s = steps[j]!;
        const undo = (executors[s.kind] as StepExecutor).undo;
        if (!undo) continue;
        try {
          await undo(s);
          reports[j]!.status = 'undone';
        } catch (e) {
          undoErrors.push(e);
        }
      }
      throw new ApplyError(err, reports, undoErrors);
    }
  }
  return reports;
}
