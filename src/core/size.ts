// Sizes with binary units: 512M, 8G, 8GiB, 1T, plain bytes. Rejects 0, negatives, garbage, overflow.
import { badInput } from './errors.ts';
import { quoteInput } from './quote.ts';

const UNITS: Record<string, bigint> = {
  '': 1n,
  B: 1n,
  K: 1024n,
  M: 1024n ** 2n,
  G: 1024n ** 3n,
  T: 1024n ** 4n,
  P: 1024n ** 5n,
};

/** Largest size accepted: 2^53-1 bytes, so sizes stay exact as JS numbers. */
export const MAX_SIZE = BigInt(Number.MAX_SAFE_INTEGER);

export function parseSize(text: string, what = 'size'): number {
  const m = /^([0-9]+)(?:\s*([KMGTP]?)(?:i?B)?)?$/i.exec(text.trim());
  const allowed = 'a positive whole number with an optional binary unit: K, M, G, T (e.g. 512M, 8G, 8GiB)';
  if (!m || text.trim() === '') throw badInput(`invalid ${what} ${quoteInput(text)}: expected ${allowed}`);
  const bytes = BigInt(m[1]!) * UNITS[(m[2] ?? '').toUpperCase()]!;
  if (bytes === 0n) throw badInput(`invalid ${what} ${quoteInput(text)}: must be greater than 0`);
  if (bytes > MAX_SIZE) throw badInput(`invalid ${what} ${quoteInput(text)}: too large (at most 8 PiB)`);
  return Number(bytes);
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
