// Which uids are the host's ordinary accounts: UID_MIN..UID_MAX from /etc/login.defs (the range
// useradd itself draws from), never 65534 (nobody/nogroup). Pure: text in, ranges out.

export interface UidRange {
  uidMin: number;
  uidMax: number;
  /** where the numbers came from, for messages */
  source: string;
}

/** shadow's own defaults when login.defs says nothing */
export const DEFAULT_UID_RANGE: UidRange = { uidMin: 1000, uidMax: 60000, source: 'the shadow defaults' };
export const NOBODY_UID = 65534;

/** Parse UID_MIN / UID_MAX (decimal, or 0x… / 0… as login.defs allows); the rest of the file is ignored. */
export function parseLoginDefs(text: string, source = '/etc/login.defs'): UidRange {
  const get = (key: string): number | undefined => {
    const m = new RegExp(`^\\s*${key}\\s+(\\S+)`, 'm').exec(text);
    if (!m) return undefined;
    const v = m[1]!;
    const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^0[0-7]+$/.test(v) ? parseInt(v, 8) : /^\d+$/.test(v) ? Number(v) : NaN;
    return Number.isSafeInteger(n) ? n : undefined;
  };
  const uidMin = get('UID_MIN') ?? DEFAULT_UID_RANGE.uidMin;
  const uidMax = get('UID_MAX') ?? DEFAULT_UID_RANGE.uidMax;
  // a nonsense range would let system accounts through: fall back to the defaults
  if (uidMin < 1 || uidMax < uidMin) return DEFAULT_UID_RANGE;
  return { uidMin, uidMax, source };
}

/** A uid outside the ordinary range, root, or nobody. */
export const isSystemUid = (uid: number, range: UidRange): boolean => uid === 0 || uid === NOBODY_UID || uid < range.uidMin || uid > range.uidMax;
