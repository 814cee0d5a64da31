// The block-device side of a destroy (who holds a device, zeroing it), as one seam a fake can replace in unit tests.
import type { Runner } from '../host/runner.ts';
import { findVolumeHolders } from './holders.ts';
import { zeroVolume, type WipeOptions } from './wipe.ts';

export interface BlockDevices {
  /** what holds the device at path (undefined: no device node) */
  holders: typeof findVolumeHolders;
  /** zero the device and verify it */
  zero: (run: Runner, path: string, sizeBytes: number, opts: WipeOptions) => Promise<unknown>;
}

export const hostBlockDevices: BlockDevices = { holders: findVolumeHolders, zero: zeroVolume };
