// Long changes (create, destroy) as operations: started at once (202), followed by GET with the
// progress events as they come, `?wait=1` to wait for the end. Kept in memory for an hour.
import { randomUUID } from 'node:crypto';
import { errorBody, type ErrorBody } from './errors.ts';
import type { ProgressEvent } from './service-bridge.ts';

export type OperationStatus = 'running' | 'succeeded' | 'failed';

export interface OperationView {
  id: string;
  kind: string;
  vm: string;
  user: string;
  status: OperationStatus;
  created: string;
  finished: string | null;
  events: ProgressEvent[];
  result: unknown;
  error: ErrorBody['error'] | null;
}

interface Op {
  view: OperationView;
  uid: number;
  done: Promise<void>;
}

/** Events kept per operation; consecutive byte counts of one phase collapse into the last. */
const MAX_EVENTS = 2000;
const KEEP_MS = 3600_000;
const MAX_OPERATIONS = 500;

export class Operations {
  private readonly ops = new Map<string, Op>();
  constructor(private readonly now: () => Date = () => new Date()) {}

  start(kind: string, vm: string, who: { user: string; uid: number }, run: (onEvent: (e: ProgressEvent) => void) => Promise<unknown>): OperationView {
    this.prune();
    const view: OperationView = { id: randomUUID(), kind, vm, user: who.user, status: 'running', created: this.now().toISOString(), finished: null, events: [], result: null, error: null };
    const onEvent = (e: ProgressEvent) => {
      const last = view.events.at(-1);
      if (e.type === 'bytes' && last?.type === 'bytes' && last.index === e.index && last.phase === e.phase) view.events[view.events.length - 1] = e;
      else if (view.events.length < MAX_EVENTS) view.events.push(e);
    };
    const done = (async () => {
      try {
        view.result = await run(onEvent);
        view.status = 'succeeded';
      } catch (err) {
        view.error = errorBody(err).body.error;
        view.status = 'failed';
      } finally {
        view.finished = this.now().toISOString();
      }
    })();
    this.ops.set(view.id, { view, uid: who.uid, done });
    return view;
  }

  /** The operation, if `who` may see it (whoever started it, or an admin). */
  get(id: string, who: { uid: number; admin: boolean }): OperationView | undefined {
    const op = this.ops.get(id);
    return op && (who.admin || op.uid === who.uid) ? op.view : undefined;
  }

  /** Resolves when the operation ended, or after `ms`. */
  async wait(id: string, ms: number): Promise<void> {
    const op = this.ops.get(id);
    if (!op) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([op.done, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  /** Resolves when every running operation ended (server shutdown, tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.ops.values()].map((o) => o.done));
  }

  private prune(): void {
    const cut = this.now().getTime() - KEEP_MS;
    for (const [id, op] of this.ops) if (op.view.finished && Date.parse(op.view.finished) < cut) this.ops.delete(id);
    for (const [id, op] of this.ops) {
      if (this.ops.size < MAX_OPERATIONS) break;
      if (op.view.finished) this.ops.delete(id);
    }
  }
}
