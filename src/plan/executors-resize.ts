// Host side of the resize steps: persistent definition, live memory, LV, the running guest's disk.
import type { Executors } from './apply.ts';
import type { ExecutorDeps } from './executors.ts';

// domain-redefine is adopt's executor (plan/adopt-executors.ts): define the new XML, undo with the old
type ResizeKinds = 'domain-setmem' | 'lv-extend' | 'domain-blockresize';

export function resizeExecutors(d: Pick<ExecutorDeps, 'hv' | 'volumes'>): Pick<Executors, ResizeKinds> {
  const { hv, volumes } = d;
  return {
    'domain-setmem': {
      apply: async (s) => {
        await hv.setMemoryLive(s.domain, s.memoryMiB);
      },
      undo: async (s) => {
        if ((await hv.state(s.domain)) === 'running') await hv.setMemoryLive(s.domain, s.previousMiB);
      },
    },
    'lv-extend': {
      apply: (s) => volumes.resize(s.vg, s.lv, s.toBytes),
      // only reached when telling the guest failed, so no guest has seen (or written) the new space
      undo: (s) => volumes.resize(s.vg, s.lv, s.fromBytes, { shrink: true }),
    },
    'domain-blockresize': {
      apply: async (s) => {
        await hv.blockResize(s.domain, s.target, s.sizeBytes);
      },
    },
  };
}
