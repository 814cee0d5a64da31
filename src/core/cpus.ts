// CPU lists and allocation: each VM gets N host CPUs of its own, pinned one-to-one (docs/house-rules.md).
import { badInput, conflict } from './errors.ts';
import { quoteInput } from './quote.ts';

/** Parse a Linux/libvirt CPU list ("0-3,6,8-9", "^2" exclusions are libvirt-only and refused). */
export function parseCpuList(text: string, what = 'CPU list'): number[] {
  const t = text.trim();
  if (t === '') return [];
  const out = new Set<number>();
  for (const part of t.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw badInput(`invalid ${what} ${quoteInput(text)}: expected e.g. "0-3" or "0,2,4-7"`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b > 65535) throw badInput(`invalid ${what} ${quoteInput(text)}: bad range ${quoteInput(part)}`);
    for (let c = a; c <= b; c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}

export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export interface CpuAllocation {
  /** host CPU for vCPU i */
  vcpuPins: number[];
  emulatorSet: number[];
}

export interface CpuHost {
  /** every online host CPU */
  hostCpus: readonly number[];
  /** never handed out (config cpus.reserved) */
  reserved: readonly number[];
  /** CPUs pinned by any domain on the host, raptor's or not (vcpupin and emulatorpin) */
  pinned: readonly number[];
}

/**
 * Pick N free CPUs, lowest first, preferring one contiguous run so a VM's CPUs stay together.
 * emulator: "own-last-2" pins emulator threads to the VM's last min(2, N) CPUs; a list pins them there.
 */
export function allocateCpus(host: CpuHost, n: number, emulator: string): CpuAllocation {
  if (!Number.isInteger(n) || n < 1) throw badInput(`invalid CPU count "${n}": must be a whole number of at least 1`);
  const taken = new Set([...host.reserved, ...host.pinned]);
  const free = [...new Set(host.hostCpus)].filter((c) => !taken.has(c)).sort((a, b) => a - b);
  if (n > free.length) {
    throw conflict(
      `not enough free CPUs: ${n} requested, ${free.length} free (host ${formatCpuList(host.hostCpus)}, reserved ${formatCpuList(host.reserved) || 'none'}, pinned by domains ${formatCpuList(host.pinned) || 'none'})`,
    );
  }
  let pick = free.slice(0, n);
  for (let i = 0; i + n <= free.length; i++) {
    if (free[i + n - 1]! - free[i]! === n - 1) {
      pick = free.slice(i, i + n);
      break;
    }
  }
  let emulatorSet: number[];
  if (emulator === 'own-last-2') {
    emulatorSet = pick.slice(-Math.min(2, n));
  } else {
    emulatorSet = parseCpuList(emulator, 'cpus.emulator');
    const unknown = emulatorSet.filter((c) => !host.hostCpus.includes(c));
    if (unknown.length) throw badInput(`cpus.emulator names CPUs the host does not have: ${formatCpuList(unknown)}`);
  }
  return { vcpuPins: pick, emulatorSet };
}
