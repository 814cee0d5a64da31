// What the host's adapters report, as plain values: the planner reads these without importing an adapter.
// Pure: no fs, processes or sockets.

/** A libvirt domain's state, in virsh's words. */
export type DomainState = 'running' | 'shut off' | 'paused' | 'in shutdown' | 'crashed' | 'pmsuspended' | 'idle' | 'unknown';

export interface DomainSummary {
  name: string;
  state: DomainState;
}

/** A run of free extents on one PV (`pvs --segments`, rows without an LV). */
export interface FreePiece {
  pv: string;
  startExtent: number;
  extents: number;
}

/** A run of extents of one LV on one PV. */
export interface UsedPiece {
  pv: string;
  lv: string;
  startExtent: number;
  extents: number;
}

export interface LogicalVolume {
  name: string;
  vg: string;
  sizeBytes: number;
  path: string;
  tags: string[];
  /** lv_attr's 6th char is 'o' when the device is open (only known with activation) */
  open: boolean;
}

export interface VolumeGroup {
  name: string;
  sizeBytes: number;
  freeBytes: number;
  extentBytes: number;
  /** vg_allocation_policy: contiguous, cling, normal, anywhere (absent: not observed) */
  allocation?: string;
  /** free extents LVM may allocate from, per PV (absent: not observed; see storage/capacity.ts) */
  free?: FreePiece[];
  /** extents in use, per PV and LV */
  used?: UsedPiece[];
}

/** Marks an LV whose create has not finished; a rerun of the same create resumes it. */
export const TAG_CREATING = 'raptor_creating';
/** Marks an LV whose bytes were zeroed and verified; a rerun of destroy skips the wipe. */
export const TAG_WIPED = 'raptor_wiped';
