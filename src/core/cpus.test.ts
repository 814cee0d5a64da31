import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateCpus, formatCpuList, parseCpuList } from './cpus.ts';
import { RaptorError } from './errors.ts';

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test('cpu lists parse and format', () => {
  assert.deepEqual(parseCpuList('0-3,6,8-9'), [0, 1, 2, 3, 6, 8, 9]);
  assert.deepEqual(parseCpuList(''), []);
  assert.equal(formatCpuList([9, 8, 0, 1, 2, 3, 6]), '0-3,6,8-9');
  assert.throws(() => parseCpuList('3-1'), RaptorError);
  assert.throws(() => parseCpuList('a'), RaptorError);
});

test('the procedure example: 16 CPUs, 0-3 reserved, 4 vCPUs -> 4-7, emulator 6,7', () => {
  const a = allocateCpus({ hostCpus: range(0, 15), reserved: range(0, 3), pinned: [] }, 4, 'own-last-2');
  assert.deepEqual(a, { vcpuPins: [4, 5, 6, 7], emulatorSet: [6, 7] });
});

test('one vCPU: emulator on that CPU', () => {
  assert.deepEqual(allocateCpus({ hostCpus: [0, 1], reserved: [], pinned: [] }, 1, 'own-last-2'), { vcpuPins: [0], emulatorSet: [0] });
});

test('2-CPU host: second VM gets the other CPU, third is refused with exit-3 error', () => {
  const host = { hostCpus: [0, 1], reserved: [], pinned: [0] };
  assert.deepEqual(allocateCpus(host, 1, 'own-last-2').vcpuPins, [1]);
  assert.throws(
    () => allocateCpus({ ...host, pinned: [0, 1] }, 1, 'own-last-2'),
    (e: unknown) => e instanceof RaptorError && e.kind === 'conflict' && /1 requested, 0 free/.test(e.message),
  );
});

test('64-CPU host: allocations are disjoint, 1:1, and skip CPUs pinned by other domains', () => {
  const pinned: number[] = [10, 11]; // someone else's domain
  const reserved = range(0, 3);
  const seen = new Set<number>();
  for (let i = 0; i < 7; i++) {
    const a = allocateCpus({ hostCpus: range(0, 63), reserved, pinned: [...pinned, ...seen] }, 8, 'own-last-2');
    assert.equal(new Set(a.vcpuPins).size, 8);
    for (const c of a.vcpuPins) {
      assert.ok(!seen.has(c) && !reserved.includes(c) && !pinned.includes(c), `cpu ${c} reused`);
      seen.add(c);
    }
    assert.deepEqual(a.emulatorSet, a.vcpuPins.slice(-2));
  }
  assert.equal(seen.size, 56);
  // 64 - 4 reserved - 2 foreign = 58 free; 56 taken leaves exactly 2
  assert.deepEqual(allocateCpus({ hostCpus: range(0, 63), reserved, pinned: [...pinned, ...seen] }, 2, 'own-last-2').vcpuPins, [62, 63]);
  assert.throws(() => allocateCpus({ hostCpus: range(0, 63), reserved, pinned: [...pinned, ...seen] }, 3, 'own-last-2'), RaptorError);
});

test('prefers a contiguous run over the lowest scattered CPUs', () => {
  const a = allocateCpus({ hostCpus: range(0, 15), reserved: [], pinned: [1, 3] }, 3, 'own-last-2');
  assert.deepEqual(a.vcpuPins, [4, 5, 6]);
});

test('explicit emulator set and bad counts', () => {
  assert.deepEqual(allocateCpus({ hostCpus: range(0, 15), reserved: range(0, 3), pinned: [] }, 2, '0-1').emulatorSet, [0, 1]);
  assert.throws(() => allocateCpus({ hostCpus: range(0, 3), reserved: [], pinned: [] }, 1, '8'), RaptorError);
  assert.throws(() => allocateCpus({ hostCpus: range(0, 3), reserved: [], pinned: [] }, 0, 'own-last-2'), (e: unknown) => e instanceof RaptorError && e.kind === 'bad-input');
});
