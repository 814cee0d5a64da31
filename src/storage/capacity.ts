// Whether a volume group can hold N more bytes, from its observed allocation policy and free pieces.
// Pure: the planner (create) and resize (extend) ask it before any change.
import { formatSize } from '../core/size.ts';
import type { FreePiece, UsedPiece, VolumeGroup } from '../core/host-types.ts';

export type { FreePiece, UsedPiece } from '../core/host-types.ts';

export type Fit = { ok: true } | { ok: false; reason: string };

/** Free pieces LVM may allocate from (PVs marked not allocatable are left out by the observation). */
function freePieces(vg: VolumeGroup): FreePiece[] {
  // a fake or older observation without segments: count the free space as one piece
  return vg.free ?? (vg.freeBytes > 0 ? [{ pv: '?', startExtent: 0, extents: vg.freeBytes / vg.extentBytes }] : []);
}

function summary(vg: VolumeGroup, pieces: FreePiece[]): string {
  const total = pieces.reduce((s, p) => s + p.extents, 0) * vg.extentBytes;
  return `${formatSize(total)} free in ${pieces.length} piece${pieces.length === 1 ? '' : 's'}`;
}

const largest = (pieces: FreePiece[]): number => pieces.reduce((m, p) => Math.max(m, p.extents), 0);

/**
 * Can a new linear LV of `bytes` be made in `vg`? With the contiguous policy it needs one free
 * piece that large; with normal, cling or anywhere any free extents will do.
 */
export function fitsInVg(vg: VolumeGroup, bytes: number): Fit {
  const pieces = freePieces(vg);
  const extents = Math.ceil(bytes / vg.extentBytes);
  const total = pieces.reduce((s, p) => s + p.extents, 0);
  if (extents > total) {
    return { ok: false, reason: `volume group ${vg.name} has ${formatSize(total * vg.extentBytes)} free, ${formatSize(bytes)} requested` };
  }
  if ((vg.allocation ?? 'normal') === 'contiguous' && extents > largest(pieces)) {
    return {
      ok: false,
      reason: `volume group ${vg.name} allocates contiguously and its largest contiguous free piece is ${formatSize(largest(pieces) * vg.extentBytes)}, ${formatSize(bytes)} requested (${summary(vg, pieces)})`,
    };
  }
  return { ok: true };
}

/**
 * Can LV `lv` grow by `bytes`? Contiguous: only into the free piece right after its last extent on
 * the same PV. Cling: into free pieces on the PVs it already uses. Otherwise: any free extents.
 */
export function fitsExtension(vg: VolumeGroup, lv: string, bytes: number): Fit {
  const pieces = freePieces(vg);
  const extents = Math.ceil(bytes / vg.extentBytes);
  const total = pieces.reduce((s, p) => s + p.extents, 0);
  if (extents > total) {
    return { ok: false, reason: `volume group ${vg.name} has ${formatSize(total * vg.extentBytes)} free, ${formatSize(bytes)} more requested for ${lv}` };
  }
  const policy = vg.allocation ?? 'normal';
  const mine = (vg.used ?? []).filter((u) => u.lv === lv);
  if (policy === 'contiguous') {
    const last = mine.reduce<UsedPiece | undefined>((a, u) => (a && a.startExtent + a.extents >= u.startExtent + u.extents ? a : u), undefined);
    const next = last ? pieces.find((p) => p.pv === last.pv && p.startExtent === last.startExtent + last.extents) : undefined;
    const room = next?.extents ?? 0;
    if (extents > room) {
      return {
        ok: false,
        reason: `volume group ${vg.name} allocates contiguously and only ${formatSize(room * vg.extentBytes)} is free right after ${lv}, ${formatSize(bytes)} more requested (${summary(vg, pieces)})`,
      };
    }
  } else if (policy === 'cling' && mine.length) {
    const pvs = new Set(mine.map((u) => u.pv));
    const near = pieces.filter((p) => pvs.has(p.pv));
    const room = near.reduce((s, p) => s + p.extents, 0);
    if (extents > room) {
      return { ok: false, reason: `volume group ${vg.name} allocates with cling and the PVs of ${lv} have ${formatSize(room * vg.extentBytes)} free, ${formatSize(bytes)} more requested` };
    }
  }
  return { ok: true };
}
