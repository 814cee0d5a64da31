// The applier: runs plan steps in order; a failure undoes the finished steps in reverse
// (a reverter, as Incus calls it). Plans come from an observation taken under the host lock, so
// every step in them is to be done: resume is the planner leaving out what is done.
import type { Step, StepKind } from './steps.ts';
import { stepTitle } from './steps.ts';
import type { BytesPhase, ProgressListener } from './events.ts';

/** What a running step may report: bytes done of a total, for one phase of its work. */
export interface StepIo {
  bytes(phase: BytesPhase, done: number, total: number): void;
}

export interface StepExecutor<S extends Step = Step> {
  apply(step: S, io: StepIo): Promise<void>;
  /** absent: the step cannot be undone (destroy steps only move forward) */
  undo?(step: S): Promise<void>;
}

export type Executors = { [K in StepKind]: StepExecutor<Extract<Step, { kind: K }>> };

export interface StepReport {
  step: Step;
  status: 'done' | 'undone' | 'failed' | 'not-run';
  ms: number;
}

export interface ApplyHooks {
  onEvent?: ProgressListener;
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

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function applyPlan(steps: Step[], executors: Executors, hooks: ApplyHooks = {}): Promise<StepReport[]> {
  const reports: StepReport[] = steps.map((step) => ({ step, status: 'not-run', ms: 0 }));
  const emit = hooks.onEvent ?? (() => {});
  const at = (i: number) => ({ step: steps[i]!.kind, title: stepTitle(steps[i]!), index: i, count: steps.length });
  const applied: number[] = [];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const ex = executors[step.kind] as StepExecutor;
    const io: StepIo = { bytes: (phase, done, total) => emit({ type: 'bytes', step: step.kind, index: i, phase, done, total }) };
    emit({ type: 'step', status: 'started', ...at(i) });
    const t0 = performance.now();
    try {
      await ex.apply(step, io);
    } catch (err) {
      reports[i]!.status = 'failed';
      reports[i]!.ms = performance.now() - t0;
      emit({ type: 'step', status: 'failed', ...at(i), ms: reports[i]!.ms, error: messageOf(err) });
      const undoErrors: unknown[] = [];
      for (const j of applied.reverse()) {
        const s = steps[j]!;
        const undo = (executors[s.kind] as StepExecutor).undo;
        if (!undo) continue;
        const u0 = performance.now();
        try {
          await undo(s);
          reports[j]!.status = 'undone';
          emit({ type: 'step', status: 'undone', ...at(j), ms: performance.now() - u0 });
        } catch (e) {
          undoErrors.push(e);
          emit({ type: 'step', status: 'failed', ...at(j), ms: performance.now() - u0, error: messageOf(e), undo: true });
        }
      }
      for (let k = i + 1; k < steps.length; k++) emit({ type: 'step', status: 'skipped', ...at(k) });
      throw new ApplyError(err, reports, undoErrors);
    }
    applied.push(i);
    reports[i]!.status = 'done';
    reports[i]!.ms = performance.now() - t0;
    emit({ type: 'step', status: 'finished', ...at(i), ms: reports[i]!.ms });
    hooks.afterStep?.(step);
  }
  return reports;
}
