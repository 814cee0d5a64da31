// Host side of the resize steps: persistent definition, live memory, LV, the running guest's disk.
import type { Executors } from './apply.ts';
import type { ExecutorDeps } from './executors.ts';

// domain-redefine is adopt's executor (plan/adopt-executors.ts): define the new XML, undo with the old
type ResizeKinds = 'domain-setmem' | 'lv-extend' | 'domain-blockresize';

export function resizeExecutors(d: Pick<ExecutorDeps, 'virsh' | 'lvm'>): Pick<Executors, ResizeKinds> {
  const { virsh, lvm } = d;
  return {
    'domain-setmem': {
      apply: async (s) => {
        await virsh.exec(['setmem', s.domain, `${s.memoryMiB}M`, '--live']);
      },
      undo: async (s) => {
        if ((await virsh.state(s.domain)) === 'running') await virsh.exec(['setmem', s.domain, `${s.previousMiB}M`, '--live']);
      },
    },
    'lv-extend': {
      apply: (s) => lvm.resize(s.vg, s.lv, s.toBytes),
      // only reached when telling the guest failed, so no guest has seen (or written) the new space
      undo: (s) => lvm.resize(s.vg, s.lv, s.fromBytes, { shrink: true }),
    },
    'domain-blockresize': {
      apply: async (s) => {
        await virsh.exec(['blockresize', s.domain, s.target, '--size', `${s.sizeBytes}B`]);
      },
    },
  };
}
