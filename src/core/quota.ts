// Quotas: per-user limits on VMs, vCPUs, memory and disk, counted from what the host holds.
import type { Config } from './config.ts';
import { conflict } from './errors.ts';
import { LV_PREFIX, tryParseVmId, vmIdFromLvName } from './naming.ts';
import { formatSize, parseSize } from './size.ts';

export interface Usage {
  vms: number;
  vcpus: number;
  memoryBytes: number;
  diskBytes: number;
}

/** A user's limits; null is no limit. */
export interface Quota {
  vms: number | null;
  vcpus: number | null;
  memoryBytes: number | null;
  diskBytes: number | null;
}

export const QUOTA_KEYS = ['vms', 'vcpus', 'memory', 'disk'] as const;

/** The effective quota of a user: `[quotas.users.NAME]` key by key over the `[quotas]` defaults. */
export function quotaFor(config: Config, user: string): Quota {
  const d = config.quotas;
  const u = d.users[user] ?? {};
  const size = (v: string | undefined, key: string) => (v === undefined ? null : parseSize(v, `quotas ${key}`));
  return {
    vms: u.vms ?? d.vms ?? null,
    vcpus: u.vcpus ?? d.vcpus ?? null,
    memoryBytes: size(u.memory ?? d.memory, 'memory'),
    diskBytes: size(u.disk ?? d.disk, 'disk'),
  };
}

export const noUsage = (): Usage => ({ vms: 0, vcpus: 0, memoryBytes: 0, diskBytes: 0 });

/** What counts: domains named by the naming rule and their memory/vCPUs, and the user's volumes. */
export interface UsageSource {
  domains: { name: string; vcpus: number; memoryMiB: number }[];
  /** volumes of the VG (every guest-{user}-{name} counts, also one whose domain is gone) */
  lvs: { name: string; sizeBytes: number }[];
}

/** Use per user, from the host itself (no ledger that can drift). */
export function usageByUser(src: UsageSource): Map<string, Usage> {
  const out = new Map<string, Usage>();
  const of = (user: string): Usage => {
    let u = out.get(user);
    if (!u) out.set(user, (u = noUsage()));
    return u;
  };
  const vmsSeen = new Set<string>();
  for (const d of src.domains) {
    const id = tryParseVmId(d.name);
    if (!id) continue;
    const u = of(id.user);
    u.vms += 1;
    vmsSeen.add(d.name);
    u.vcpus += d.vcpus;
    u.memoryBytes += d.memoryMiB * 2 ** 20;
  }
  for (const lv of src.lvs) {
    const id = vmIdFromLvName(lv.name);
    if (!id) continue;
    const u = of(id.user);
    u.diskBytes += lv.sizeBytes;
    // a volume whose domain is gone (an unfinished create or destroy) still holds a VM's place
    if (!vmsSeen.has(lv.name.slice(LV_PREFIX.length))) u.vms += 1;
  }
  return out;
}

/** Refuse (exit 3) when `more` on top of `use` passes a limit; the message names the quota and the use. */
export function checkQuota(user: string, quota: Quota, use: Usage, more: Usage): void {
  const over: string[] = [];
  const check = (name: string, limit: number | null, now: number, add: number, fmt: (n: number) => string) => {
    if (limit === null || add <= 0 || now + add <= limit) return;
    over.push(`${name} ${fmt(now)} of ${fmt(limit)} in use, ${fmt(add)} more requested`);
  };
  const n = (x: number) => String(x);
  check('vms', quota.vms, use.vms, more.vms, n);
  check('vcpus', quota.vcpus, use.vcpus, more.vcpus, n);
  check('memory', quota.memoryBytes, use.memoryBytes, more.memoryBytes, formatSize);
  check('disk', quota.diskBytes, use.diskBytes, more.diskBytes, formatSize);
  if (over.length) throw conflict(`quota of ${user} exceeded: ${over.join('; ')} (an admin may pass --ignore-quota)`);
}
