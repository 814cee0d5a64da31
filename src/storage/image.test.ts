import { test } from 'node:test';
import assert from 'node:assert/strict';
import { othersCanWrite, qemuImgProgress } from './image.ts';

test('only a root-owned qcow2 without group/world write is converted in place; others get a private copy', () => {
  assert.equal(othersCanWrite({ uid: 0, mode: 0o100644 }), false);
  assert.equal(othersCanWrite({ uid: 0, mode: 0o100600 }), false);
  assert.equal(othersCanWrite({ uid: 0, mode: 0o100664 }), true);
  assert.equal(othersCanWrite({ uid: 0, mode: 0o100646 }), true);
  assert.equal(othersCanWrite({ uid: 1000, mode: 0o100444 }), true);
});

test("qemu-img's -p percentages become bytes of the virtual size, marks split across chunks included", () => {
  const seen: [number, number][] = [];
  const feed = qemuImgProgress(1000, (done, total) => seen.push([done, total]));
  feed('    (0.00/100%)\r');
  feed('    (12.50/100%)\r    (25.');
  feed('00/100%)\r');
  feed('    (25.00/100%)\r'); // no change: no event
  feed('    (100.00/100%)\n');
  assert.deepEqual(seen, [[0, 1000], [125, 1000], [250, 1000], [1000, 1000]]);
});
