import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPlan, ApplyError, type Executors, type StepExecutor } from './apply.ts';
import type { ProgressEvent } from './events.ts';
import { stepTitle, type Step } from './steps.ts';

/** Executors that record what they did; `failOn` makes that step's apply throw, `undoFails` its undo. */
function recording(failOn?: Step['kind'], undoFails?: Step['kind']) {
  const log: string[] = [];
  const ex = (kind: Step['kind'], undoable: boolean): StepExecutor => ({
    apply: async (_s, io) => {
      if (kind === failOn) throw new Error(`${kind} broke`);
      if (kind === 'lv-create') io.bytes('wipe', 512, 1024);
      log.push(`apply ${kind}`);
    },
    ...(undoable
      ? {
          undo: async () => {
            if (kind === undoFails) throw new Error(`undo of ${kind} broke`);
            log.push(`undo ${kind}`);
          },
        }
      : {}),
  });
  const kinds: [Step['kind'], boolean][] = [
    ['lv-create', true], ['image-write', false], ['domain-define', true], ['dns-add', true], ['domain-start', true], ['lv-untag', false],
    ['domain-stop', false], ['dns-remove', false], ['domain-undefine', false], ['lv-wipe', false], ['lv-remove', false],
  ];
  return { log, executors: Object.fromEntries(kinds.map(([k, u]) => [k, ex(k, u)])) as unknown as Executors };
}

const create: Step[] = [
  { kind: 'lv-create', vg: 'vg', lv: 'guest-a-b', sizeBytes: 1, tags: [] },
  { kind: 'domain-define', domain: 'a-b', xml: '<domain/>' },
  { kind: 'domain-start', domain: 'a-b' },
  { kind: 'lv-untag', vg: 'vg', lv: 'guest-a-b', tag: 't' },
];

/** Events without their timings, as `status kind #index`. */
const brief = (events: ProgressEvent[]) =>
  events.map((e) => (e.type === 'step' ? `${e.status}${e.undo ? ' (undo)' : ''} ${e.step} #${e.index}` : `bytes ${e.step} #${e.index} ${e.phase} ${e.done}/${e.total}`));

test('a failure undoes the finished steps in reverse and reports each step', async () => {
  const { log, executors } = recording('domain-start');
  const err = await applyPlan(create, executors).catch((e: unknown) => e);
  assert.ok(err instanceof ApplyError);
  assert.equal((err.cause as Error).message, 'domain-start broke');
  assert.deepEqual(log, ['apply lv-create', 'apply domain-define', 'undo domain-define', 'undo lv-create']);
  assert.deepEqual(err.reports.map((r) => r.status), ['undone', 'undone', 'failed', 'not-run']);
});

test('events of a plan with a failing step: started/finished each, failed, undone in reverse, the rest skipped', async () => {
  const { executors } = recording('domain-start');
  const events: ProgressEvent[] = [];
  await assert.rejects(applyPlan(create, executors, { onEvent: (e) => events.push(e) }), ApplyError);
  assert.deepEqual(brief(events), [
    'started lv-create #0',
    'bytes lv-create #0 wipe 512/1024',
    'finished lv-create #0',
    'started domain-define #1',
    'finished domain-define #1',
    'started domain-start #2',
    'failed domain-start #2',
    'undone domain-define #1',
    'undone lv-create #0',
    'skipped lv-untag #3',
  ]);
  for (const e of events) {
    if (e.type !== 'step') continue;
    assert.equal(e.title, stepTitle(create[e.index]!));
    assert.equal(e.count, 4);
    assert.equal(typeof e.ms === 'number', e.status !== 'started' && e.status !== 'skipped', `${e.status} has ms`);
  }
  const failed = events.find((e) => e.type === 'step' && e.status === 'failed');
  assert.ok(failed?.type === 'step' && failed.error === 'domain-start broke');
});

test('an undo that fails is a failed event marked undo; the other undos still run', async () => {
  const { log, executors } = recording('lv-untag', 'domain-start');
  const events: ProgressEvent[] = [];
  const err = (await applyPlan(create, executors, { onEvent: (e) => events.push(e) }).catch((e: unknown) => e)) as ApplyError;
  assert.deepEqual(brief(events).slice(-4), ['failed lv-untag #3', 'failed (undo) domain-start #2', 'undone domain-define #1', 'undone lv-create #0']);
  assert.deepEqual(log.slice(-2), ['undo domain-define', 'undo lv-create']);
  assert.equal((err.undoErrors[0] as Error).message, 'undo of domain-start broke');
});

test('every step of the plan runs (what is done is the planner\'s to leave out); hooks see every step', async () => {
  const { log, executors } = recording();
  const seen: string[] = [];
  const events: ProgressEvent[] = [];
  const reports = await applyPlan(create, executors, { afterStep: (s) => seen.push(s.kind), onEvent: (e) => events.push(e) });
  assert.deepEqual(log, create.map((s) => `apply ${s.kind}`));
  assert.deepEqual(seen, create.map((s) => s.kind));
  assert.ok(reports.every((r) => r.status === 'done'));
  assert.equal(events.filter((e) => e.type === 'step' && e.status === 'finished').length, 4);
});
