import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitsExtension, fitsInVg } from './capacity.ts';
import type { VolumeGroup } from '../core/host-types.ts';
import { parseSegments } from './lvm.ts';

const EXT = 4 * 2 ** 20;
const vg = (allocation: string, json: string): VolumeGroup => {
  const { free, used } = parseSegments(json);
  return { name: 'vg0', sizeBytes: 100 * EXT, freeBytes: free.reduce((s, p) => s + p.extents, 0) * EXT, extentBytes: EXT, allocation, free, used };
};
// two PVs as `pvs --segments --reportformat json` prints them: holes of 10 and 20 extents on
// /dev/a, 5 free on /dev/b (not allocatable, so unusable), lv1 followed by the 20-extent hole
const SEGMENTS = JSON.stringify({
  report: [
    {
      pvseg: [
        { pv_name: '/dev/a', pv_allocatable: 'allocatable', pv_missing: '', pvseg_start: '0', pvseg_size: '30', lv_name: 'lv0' },
        { pv_name: '/dev/a', pv_allocatable: 'allocatable', pv_missing: '', pvseg_start: '30', pvseg_size: '10', lv_name: '' },
        { pv_name: '/dev/a', pv_allocatable: 'allocatable', pv_missing: '', pvseg_start: '40', pvseg_size: '20', lv_name: 'lv1' },
        { pv_name: '/dev/a', pv_allocatable: 'allocatable', pv_missing: '', pvseg_start: '60', pvseg_size: '20', lv_name: '' },
        { pv_name: '/dev/b', pv_allocatable: '', pv_missing: '', pvseg_start: '0', pvseg_size: '5', lv_name: '' },
      ],
    },
  ],
});

test('parseSegments: free pieces only on allocatable PVs; used pieces per LV', () => {
  const { free, used } = parseSegments(SEGMENTS);
  assert.deepEqual(free, [{ pv: '/dev/a', startExtent: 30, extents: 10 }, { pv: '/dev/a', startExtent: 60, extents: 20 }]);
  assert.deepEqual(used.map((u) => `${u.lv}@${u.startExtent}+${u.extents}`), ['lv0@0+30', 'lv1@40+20']);
});

test('fitsInVg: contiguous needs one piece; other policies any free extents; too little is too little', () => {
  const c = vg('contiguous', SEGMENTS);
  assert.deepEqual(fitsInVg(c, 20 * EXT), { ok: true });
  const no = fitsInVg(c, 25 * EXT);
  assert.ok(!no.ok);
  assert.equal(no.reason, 'volume group vg0 allocates contiguously and its largest contiguous free piece is 80 MiB, 100 MiB requested (120 MiB free in 2 pieces)');
  assert.deepEqual(fitsInVg(vg('normal', SEGMENTS), 25 * EXT), { ok: true });
  assert.deepEqual(fitsInVg(vg('cling', SEGMENTS), 30 * EXT), { ok: true });
  const none = fitsInVg(vg('normal', SEGMENTS), 31 * EXT);
  assert.ok(!none.ok && none.reason === 'volume group vg0 has 120 MiB free, 124 MiB requested');
  // an observation without segments counts the free space as one piece
  assert.deepEqual(fitsInVg({ name: 'v', sizeBytes: 10 * EXT, freeBytes: 10 * EXT, extentBytes: EXT }, 10 * EXT), { ok: true });
});

test('fitsExtension: contiguous grows only into the piece right after the LV', () => {
  const c = vg('contiguous', SEGMENTS);
  assert.deepEqual(fitsExtension(c, 'lv1', 20 * EXT), { ok: true });
  const big = fitsExtension(c, 'lv1', 21 * EXT);
  assert.ok(!big.ok && /only 80 MiB is free right after lv1, 84 MiB more requested/.test(big.reason));
  assert.deepEqual(fitsExtension(c, 'lv0', 10 * EXT), { ok: true });
  assert.ok(!fitsExtension(c, 'lv0', 11 * EXT).ok, 'lv0 is followed by a 10-extent hole only');
  assert.deepEqual(fitsExtension(vg('normal', SEGMENTS), 'lv0', 30 * EXT), { ok: true });
  assert.ok(!fitsExtension(vg('normal', SEGMENTS), 'lv0', 31 * EXT).ok);
});
