// The host side of `vm adopt`'s steps: copy the NVRAM, redefine the domain, label the running one.
import { chmodSync, chownSync, constants, copyFileSync, rmSync, statSync } from 'node:fs';
import type { Executors } from './apply.ts';
import type { ExecutorDeps } from './executors.ts';

type AdoptKinds = 'nvram-copy' | 'domain-redefine' | 'domain-metadata-live';

export function adoptExecutors(d: Pick<ExecutorDeps, 'hv'>): Pick<Executors, AdoptKinds> {
  const { hv } = d;
  return {
    'nvram-copy': {
      apply: async (s) => {
        // never over another file: the planner refused when the target existed
        copyFileSync(s.from, s.to, constants.COPYFILE_EXCL);
        const st = statSync(s.from);
        chmodSync(s.to, st.mode & 0o7777);
        chownSync(s.to, st.uid, st.gid);
      },
      undo: async (s) => rmSync(s.to, { force: true }),
    },
    'domain-redefine': {
      apply: (s) => hv.define(s.xml),
      undo: (s) => hv.define(s.previousXml),
    },
    'domain-metadata-live': {
      apply: async (s) => {
        await hv.setMetadata(s.domain, s.namespace, s.key, s.xml, { live: true });
      },
      undo: async (s) => {
        await hv.removeMetadata(s.domain, s.namespace, { live: true });
      },
    },
  };
}
