// Progress as typed events: what the applier and long-running service functions report, for any
// front end (the CLI draws lines and bars; an HTTP operation can stream the same values as JSON).
import type { StepKind } from './steps.ts';

/** What happened to one plan step. `skipped`: never run, because an earlier step failed. */
export type StepStatus = 'started' | 'finished' | 'skipped' | 'undone' | 'failed';

/** Which part of a step's work a bytes event counts. */
export type BytesPhase = 'image' | 'wipe' | 'verify';

export type ProgressEvent =
  | {
      type: 'step';
      status: StepStatus;
      step: StepKind;
      title: string;
      /** the step's place in its plan, from 0 */
      index: number;
      /** the number of steps in the plan */
      count: number;
      /** how long the action took (finished, failed, undone) */
      ms?: number;
      /** failed: the error's message; `undo` says the step's undo failed (its apply had finished) */
      error?: string;
      undo?: boolean;
    }
  | { type: 'bytes'; step: StepKind; index: number; phase: BytesPhase; done: number; total: number };

export type ProgressListener = (e: ProgressEvent) => void;
