import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPlan, ApplyError, type Executors, type StepExecutor } from './apply.ts';
import type { Step } from './steps.ts';

/** Executors that record what they did; `failOn` makes that step's apply throw. */
function recording(failOn?: Step['kind'], done: Step['kind'][] = []) {
  const log: string[] = [];
  const ex = (kind: Step['kind'], undoable: boolean): StepExecutor => ({
    isDone: async () => done.includes(kind),
    apply: async () => {
      if (kind === failOn) throw new Error(`${kind} broke`);
      log.push(`apply ${kind}`);
    },
    ...(undoable ? { undo: async () => void log.push(`undo ${kind}`) } : {}),
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

test('a failure undoes the finished steps in reverse and reports each step', async () => {
  const { log, executors } = recording('domain-start');
  const err = await applyPlan(create, executors).catch((e: unknown) => e);
  assert.ok(err instanceof ApplyError);
  assert.equal((err.cause as Error).message, 'domain-start broke');
  assert.deepEqual(log, ['apply lv-create', 'apply domain-define', 'undo domain-define', 'undo lv-create']);
  assert.deepEqual(err.reports.map((r) => r.status), ['undone', 'undone', 'failed', 'not-run']);
});

test('steps already done are skipped, and never undone', async () => {
  const { log, executors } = recording('lv-untag', ['lv-create']);
  const err = (await applyPlan(create, executors).catch((e: unknown) => e)) as ApplyError;
  assert.deepEqual(log, ['apply domain-define', 'apply domain-start', 'undo domain-start', 'undo domain-define']);
  assert.equal(err.reports[0]!.status, 'skipped');
});

test('checkDone: false trusts the plan; hooks see every step', async () => {
  const { log, executors } = recording(undefined, ['lv-create']);
  const seen: string[] = [];
  const reports = await applyPlan(create, executors, { checkDone: false, afterStep: (s) => seen.push(s.kind) });
  assert.deepEqual(log, create.map((s) => `apply ${s.kind}`));
  assert.deepEqual(seen, create.map((s) => s.kind));
  assert.ok(reports.every((r) => r.status === 'done'));
});
