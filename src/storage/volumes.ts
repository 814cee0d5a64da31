// The narrow volume interface (LVM on the real host) the service, observation and executors use.
// Implementations: `lvm.ts` (the real host) and `fake-volumes.ts` (unit tests).
import type { LogicalVolume, VolumeGroup } from '../core/host-types.ts';

export type { LogicalVolume, VolumeGroup } from '../core/host-types.ts';

export interface Volumes {
  /** the VG with its free and used pieces; undefined when it does not exist */
  vg(name: string): Promise<VolumeGroup | undefined>;
  /** the VG's LVs; none when the VG does not exist */
  lvs(vg: string): Promise<LogicalVolume[]>;
  /** the VG and its LVs, side by side */
  observe(vg: string): Promise<{ vg: VolumeGroup | undefined; lvs: LogicalVolume[] }>;
  lv(vg: string, name: string): Promise<LogicalVolume | undefined>;
  /** a new LV of exactly sizeBytes, with these tags from the first moment */
  create(vg: string, name: string, sizeBytes: number, tags: string[]): Promise<void>;
  addTag(vg: string, name: string, tag: string): Promise<void>;
  delTag(vg: string, name: string, tag: string): Promise<void>;
  /** grow (or, to undo a grow the guest never saw, shrink back) an LV to exactly sizeBytes */
  resize(vg: string, name: string, sizeBytes: number, opts?: { shrink?: boolean }): Promise<void>;
  remove(vg: string, name: string): Promise<void>;
}
