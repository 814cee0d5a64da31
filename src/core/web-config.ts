// The `[web]` config section of `raptor serve` and `raptor web …` (docs/web.md). Pure.
import { z } from 'zod';

const HOUR = 3600;
const DAY = 24 * HOUR;

/** HOST:PORT, the host a name, an IPv4 address or a bracketed IPv6 address. */
export const LISTEN_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):([1-9]\d{0,4})$/;

export function parseListen(v: string): { host: string; port: number } | undefined {
  const m = LISTEN_RE.exec(v);
  if (!m || Number(m[2]) > 65535) return undefined;
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

const isOrigin = (v: string): boolean => {
  try {
    const u = new URL(v);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.pathname === '/' && !u.search && !u.hash && !u.username && !u.password;
  } catch {
    return false;
  }
};

const absolute = z.string().startsWith('/', 'an absolute path');

export const webConfigSchema = z
  .object({
    /** where `raptor serve` listens, and where `raptor web …` reaches it */
    listen: z.string().refine((v) => parseListen(v) !== undefined, 'HOST:PORT, e.g. 127.0.0.1:8470').default('127.0.0.1:8470'),
    /** a unix socket to listen on instead (for a reverse proxy on the same host) */
    socket: absolute.optional(),
    /** the address users open in their browser (the reverse proxy's), e.g. https://vms.example.org */
    public_url: z.string().refine(isOrigin, 'an origin like https://vms.example.org (no path)').optional(),
    /** root-only: the store of sessions and tokens (hashed) */
    state_dir: absolute.default('/var/lib/raptor/web'),
    /** root-owned, sticky, writable by all: where `raptor web …` proves who runs it */
    spool_dir: absolute.default('/run/raptor/web-login'),
    session_ttl_s: z.number().int().min(60).max(30 * DAY).default(12 * HOUR),
    token_ttl_s: z.number().int().min(60).max(365 * DAY).default(30 * DAY),
    login_url_ttl_s: z.number().int().min(10).max(HOUR).default(300),
    /** sign-in attempts (spool proofs and one-time URLs) a minute, per source address and per account */
    login_per_minute_per_source: z.number().int().min(1).max(10_000).default(30),
    login_per_minute_per_user: z.number().int().min(1).max(10_000).default(10),
  })
  .strict()
  .default({});

export type WebConfig = z.infer<typeof webConfigSchema>;
