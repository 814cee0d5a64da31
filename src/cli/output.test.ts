import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressPrinter } from './output.ts';
import type { ProgressEvent } from '../plan/events.ts';

/** A stream that records what is written; `isTTY` as given. */
function recorder(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = { isTTY, write: (s: string) => chunks.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join('') };
}

const step = (status: 'started' | 'finished' | 'skipped' | 'undone' | 'failed', index: number, title: string): ProgressEvent => ({ type: 'step', status, step: 'lv-wipe', title, index, count: 3 });
const MiB = 1024 ** 2;

test('the CLI prints a "done:" line per finished step; started, undone and skipped steps print nothing', () => {
  const { stream, text } = recorder(false);
  const print = progressPrinter(stream);
  for (const e of [step('started', 0, 'a'), step('finished', 0, 'a'), step('started', 1, 'b'), step('failed', 1, 'b'), step('undone', 0, 'a'), step('skipped', 2, 'c')]) print(e);
  assert.equal(text(), 'done: a\n');
});

test('off a terminal the wipe prints a line per 10% more (and the last) per phase; image progress prints nothing', () => {
  const { stream, text } = recorder(false);
  const print = progressPrinter(stream);
  for (let i = 1; i <= 20; i++) print({ type: 'bytes', step: 'lv-wipe', index: 0, phase: 'wipe', done: i * 4 * MiB, total: 80 * MiB });
  print({ type: 'bytes', step: 'lv-wipe', index: 0, phase: 'verify', done: 80 * MiB, total: 80 * MiB });
  print({ type: 'bytes', step: 'image-write', index: 0, phase: 'image', done: 5, total: 10 });
  const lines = text().trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => l.replace(/, [^,]*\/s, ETA \d+s$/, '')), [
    ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => `wipe: ${k * 10 + 5}% ${k * 8 + 4} MiB of 80 MiB`),
    'wipe: 100% 80 MiB of 80 MiB',
    'verify: 100% 80 MiB of 80 MiB',
  ]);
});

test('on a terminal the wipe is a redrawn bar and the image write shows qemu-img\'s percentage', () => {
  const { stream, text } = recorder(true);
  const print = progressPrinter(stream);
  print({ type: 'bytes', step: 'image-write', index: 1, phase: 'image', done: 250, total: 1000 });
  assert.equal(text(), '    (25.00/100%)\r');
  print({ type: 'bytes', step: 'lv-wipe', index: 0, phase: 'wipe', done: 40 * MiB, total: 80 * MiB });
  assert.match(text(), /\rwipe \[#{15}\.{15}\] 50% 40 MiB\/80 MiB .* ETA \d+s/);
  assert.ok(text().endsWith('\u001b[K'), 'the rest of the line is cleared');
});
