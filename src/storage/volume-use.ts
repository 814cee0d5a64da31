// Who holds a volume, as data, and how a refusal names them (pure: the planner uses it).
import { escapeControls } from '../core/quote.ts';

export type VolumeHolder =
  | { kind: 'process'; pid: number; command: string; /** the qemu of the domain being destroyed */ ownQemu: boolean }
  | { kind: 'sysfs-holder'; device: string }
  | { kind: 'loop'; device: string }
  | { kind: 'mount'; target: string }
  | { kind: 'swap' }
  | { kind: 'exclusive' };

export interface VolumeUse {
  /** the block device the LV path resolves to, e.g. /dev/dm-3 or /dev/loop5 */
  device: string;
  holders: VolumeHolder[];
  /** processes whose files could not be read (not root): the answer is incomplete */
  unreadable: number[];
}

/** A command line for a message: arguments joined by spaces, control characters escaped, at most 80 chars. */
export function describeCommand(cmdline: string, comm: string): string {
  const args = cmdline.split('\0').filter((a) => a !== '');
  const raw = args.length ? args.join(' ') : `[${comm.trim()}]`;
  const chars = [...raw];
  const cut = chars.length > 80 ? `${chars.slice(0, 77).join('')}...` : raw;
  return escapeControls(cut, { keepNewlines: false });
}

/** One line naming the holders, for a refusal. */
export function describeHolders(holders: VolumeHolder[]): string {
  return holders
    .map((h) => {
      switch (h.kind) {
        case 'process':
          return `pid ${h.pid} (${h.command})`;
        case 'sysfs-holder':
          return `kernel holder ${h.device}`;
        case 'loop':
          return `loop device ${h.device} over it`;
        case 'mount':
          return `mounted on ${escapeControls(h.target, { keepNewlines: false })}`;
        case 'swap':
          return 'in use as swap';
        case 'exclusive':
          return 'claimed exclusively (an exclusive open, mount or device stack)';
      }
    })
    .join(', ');
}

