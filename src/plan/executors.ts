// What each plan step does on the real host and how it undoes. What is done is the planner's to
// leave out (it plans from an observation under the host lock), so no step asks again.
import { rmSync } from 'node:fs';
import { RaptorError } from '../core/errors.ts';
import { TAG_WIPED } from '../core/host-types.ts';
import { isNoDomain, type Hypervisor } from '../libvirt/hypervisor.ts';
import { parseDomainXml } from '../libvirt/domain-xml.ts';
import type { Volumes } from '../storage/volumes.ts';
import { writeImageFile } from '../storage/image.ts';
import { hostBlockDevices, type BlockDevices } from '../storage/devices.ts';
import { describeHolders } from '../storage/volume-use.ts';
import type { Runner } from '../host/runner.ts';
import type { Executors } from './apply.ts';
import type { DnsTransport } from '../dns/client.ts';
import { applyUpdates, sendAll } from '../dns/service.ts';
import type { Config } from '../core/config.ts';
import { resizeExecutors } from './executors-resize.ts';
import { adoptExecutors } from './adopt-executors.ts';
import { removeSeed, writeSeed } from '../storage/seed.ts';
import { accountExecutors } from './account-executors.ts';
import type { Accounts } from '../access/accounts.ts';
import type { HostFiles } from '../host/host-files.ts';

export interface ExecutorDeps {
  run: Runner;
  hv: Hypervisor;
  volumes: Volumes;
  /** who holds a device, and the zeroing (default: the host's) */
  devices?: BlockDevices;
  wipe: { stepBytes: number; offload: boolean; verify: 'sample' | 'full' };
  /** opened on first use, so plans without DNS steps never read the key */
  dns: () => Promise<DnsTransport>;
  config: Config;
  accounts: Accounts;
  files: HostFiles;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitForShutOff(hv: Hypervisor, domain: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await hv.state(domain);
    if (s === undefined || s === 'shut off') return true;
    if (Date.now() >= deadline) return false;
    await sleep(500);
  }
}

/**
 * Nothing may hold the LV when it is zeroed. Found here, after destroy has changed the host, it
 * is not a clean refusal (exit 3 means nothing changed): an unexpected failure that a rerun,
 * which checks before changing anything, reports properly.
 */
async function assertVolumeFree(hv: Hypervisor, volumes: Volumes, devices: BlockDevices, s: { vg: string; lv: string; path: string }): Promise<void> {
  const halt = (why: string) => new RaptorError('unexpected', `refusing to wipe ${s.path}: ${why}; destroy stopped before the wipe: rerun it once the volume is free`);
  const user = (await hv.listWithXml(parseDomainXml)).find((x) => x.state !== 'shut off' && x.parsed.disks.some((k) => k.path === s.path));
  if (user) throw halt(`domain ${user.name} (${user.state}) uses it`);
  // a qemu that was just forced off may take a moment to close the device
  for (let tries = 0; ; tries++) {
    const use = devices.holders(s.path);
    const lv = await volumes.lv(s.vg, s.lv);
    const busy = use?.holders.length ? `the device is open: ${describeHolders(use.holders)}` : lv?.open ? 'LVM reports it open' : undefined;
    if (!busy) return;
    if (tries >= 10) throw halt(busy);
    await sleep(500);
  }
}

export function hostExecutors(d: ExecutorDeps): Executors {
  const { hv, volumes } = d;
  const devices = d.devices ?? hostBlockDevices;
  return {
    ...resizeExecutors(d),
    ...adoptExecutors(d),
    ...accountExecutors(d),
    // the UPDATEs were planned from what the server answered under the lock; each carries
    // prerequisites pinning those answers, so a change made meanwhile fails instead of being overwritten
    'dns-add': {
      apply: async (s) => sendAll(await d.dns(), s.updates, s.undo),
      undo: async (s) => applyUpdates(await d.dns(), s.undo),
    },
    'dns-remove': {
      apply: async (s) => applyUpdates(await d.dns(), s.updates),
    },
    'lv-create': {
      apply: (s) => volumes.create(s.vg, s.lv, s.sizeBytes, s.tags),
      // a fresh LV holds nothing of the user's yet, so it is removed without a wipe
      undo: (s) => volumes.remove(s.vg, s.lv),
    },
    'image-write': {
      // rewriting is always safe here: the planner only adds this step while no domain uses the LV
      apply: (s, io) => writeImageFile(d.run, { image: s.image, format: s.format, virtualSize: s.sizeBytes, target: s.target, onProgress: (done, total) => io.bytes('image', done, total) }),
    },
    'seed-write': {
      // rewriting is safe: a running guest keeps the file it opened, renamed-over or not
      apply: (s) => writeSeed(d.run, s.path, s),
      undo: async (s) => removeSeed(s.path),
    },
    'seed-remove': {
      apply: async (s) => removeSeed(s.path),
    },
    'domain-define': {
      apply: (s) => hv.define(s.xml),
      undo: async (s) => {
        if ((await hv.state(s.domain)) === undefined) return;
        if ((await hv.state(s.domain)) !== 'shut off') await hv.destroy(s.domain);
        await hv.undefine(s.domain);
      },
    },
    'domain-start': {
      apply: (s) => hv.start(s.domain),
      undo: async (s) => {
        if ((await hv.state(s.domain)) === 'running') await hv.destroy(s.domain);
      },
    },
    'lv-untag': {
      apply: (s) => volumes.delTag(s.vg, s.lv, s.tag),
    },
    'domain-stop': {
      apply: async (s) => {
        const st = await hv.state(s.domain);
        if (st === undefined || st === 'shut off') return;
        try {
          await hv.shutdown(s.domain);
        } catch (err) {
          // gone meanwhile (a transient domain its owner stopped); a paused or crashed one cannot
          // shut down gracefully and is forced off below
          if (isNoDomain(err)) return;
        }
        if (!(await waitForShutOff(hv, s.domain, s.timeoutS * 1000))) {
          await hv.destroy(s.domain).catch(async (err: unknown) => {
            const now = await hv.state(s.domain);
            if (now !== undefined && now !== 'shut off') throw err;
          });
        }
      },
    },
    'domain-undefine': {
      apply: async (s) => {
        // a running domain becomes transient: nothing is left that its owner could start again
        if ((await hv.persistent(s.domain)) === true) await hv.undefine(s.domain, { all: true });
        // an earlier run may have undefined the domain and died before libvirt removed the file
        rmSync(s.nvram, { force: true });
      },
    },
    'lv-wipe': {
      apply: async (s, io) => {
        // the planner refused holders before any change; this is the last look before zeroing
        await assertVolumeFree(hv, volumes, devices, s);
        await devices.zero(d.run, s.path, s.sizeBytes, { ...d.wipe, onProgress: (p) => io.bytes(p.phase === 'zero' ? 'wipe' : 'verify', p.done, p.total) });
        await volumes.addTag(s.vg, s.lv, TAG_WIPED);
      },
    },
    'lv-remove': {
      apply: async (s) => {
        const lv = await volumes.lv(s.vg, s.lv);
        // the house rule: zeroed before removed
        if (lv && !lv.tags.includes(TAG_WIPED)) {
          throw new RaptorError('unexpected', `refusing to remove ${s.vg}/${s.lv}: it was not wiped`);
        }
        await volumes.remove(s.vg, s.lv);
      },
    },
  };
}
