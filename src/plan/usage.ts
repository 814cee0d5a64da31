// Quota use as the observed host shows it (domains and volumes), for the planners and `user list`.
import type { UsageSource } from '../core/quota.ts';
import type { HostState } from './planner.ts';

/** What counts toward quotas: each domain's larger of running and persistent size, and every volume. */
export function usageSource(host: HostState): UsageSource {
  return {
    domains: host.domains.map((d) => ({
      name: d.name,
      vcpus: Math.max(d.parsed.vcpus, d.inactive?.vcpus ?? 0),
      memoryMiB: Math.max(d.parsed.memoryMiB, d.inactive?.memoryMiB ?? 0),
    })),
    lvs: host.lvs,
  };
}
