// Expiry of lab VMs: when a VM is due to be reaped (kept in the domain's raptor metadata).
import { badInput } from './errors.ts';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
/** Durations past this are typos, not leases (and keep dates within what Date can hold). */
const MAX_MS = 100 * 365 * 86_400_000;
export const EXPIRY_FORMATS = 'a date (2027-03-01, meaning 00:00 UTC that day), a UTC time (2027-03-01T12:00:00Z) or a duration from now (90d, 12h, 30m, 2w, 45s)';

/**
 * `--expires` text into an instant. A past instant is bad input; `allowNow` lets `vm expire ID now`
 * mark a VM as expired at once.
 */
export function parseExpiry(text: string, now: Date, opts: { allowNow?: boolean } = {}): Date {
  const t = text.trim();
  if (opts.allowNow && t === 'now') return new Date(now.getTime());
  let when: Date | undefined;
  const dur = /^(\d{1,9})([smhdw])$/.exec(t);
  if (dur) {
    const ms = Number(dur[1]) * UNIT_MS[dur[2]!]!;
    if (ms === 0) throw badInput(`invalid expiry "${text}": a duration must be greater than 0`);
    if (ms > MAX_MS) throw badInput(`invalid expiry "${text}": more than 100 years`);
    when = new Date(now.getTime() + ms);
  } else if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
    when = new Date(`${t}T00:00:00.000Z`);
    if (Number.isNaN(when.getTime()) || when.toISOString().slice(0, 10) !== t) throw badInput(`invalid expiry "${text}": no such date`);
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(t)) {
    when = new Date(t);
    if (Number.isNaN(when.getTime())) throw badInput(`invalid expiry "${text}": no such time`);
  } else {
    throw badInput(`invalid expiry "${text}": expected ${EXPIRY_FORMATS}`);
  }
  if (when.getTime() <= now.getTime()) throw badInput(`invalid expiry "${text}": ${when.toISOString()} is in the past`);
  if (when.getTime() - now.getTime() > MAX_MS) throw badInput(`invalid expiry "${text}": more than 100 years from now`);
  return when;
}

/** A stored expiry (ISO text from the metadata) is due at `now`; unparsable text never expires a VM. */
export function isExpired(expires: string | null | undefined, now: Date): boolean {
  if (!expires) return false;
  const t = Date.parse(expires);
  return !Number.isNaN(t) && t <= now.getTime();
}

export const EXPIRY_WARN_MS = 7 * 86_400_000;

/** The warning `vm show` prints when a VM expires within 7 days (or already has), else undefined. */
export function expiryWarning(vm: string, expires: string | null | undefined, now: Date): string | undefined {
  if (!expires) return undefined;
  const t = Date.parse(expires);
  if (Number.isNaN(t)) return undefined;
  const left = t - now.getTime();
  if (left <= 0) return `${vm} expired at ${expires}: the next raptor vm reap destroys it and wipes its disk (an admin can extend it: raptor vm expire ${vm} DATE)`;
  if (left > EXPIRY_WARN_MS) return undefined;
  const hours = Math.floor(left / 3_600_000);
  const inText = hours >= 48 ? `${Math.floor(hours / 24)} days` : hours >= 1 ? `${hours} h` : `${Math.max(1, Math.floor(left / 60_000))} min`;
  return `${vm} expires at ${expires} (in ${inText}): then raptor vm reap destroys it and wipes its disk (an admin can extend it: raptor vm expire ${vm} DATE)`;
}
