// The host's account and group database (/etc/passwd, /etc/group), read again only when a file
// changed: every request checks its account's groups, so a removal from vm-users takes effect at once.
import { readFileSync, statSync } from 'node:fs';

export interface AccountEntry {
  user: string;
  uid: number;
  gid: number;
  /** group names, the primary one first */
  groups: string[];
}

export interface AccountLookup {
  byUid(uid: number): AccountEntry | undefined;
}

interface Parsed {
  byUid: Map<number, AccountEntry>;
}

/** Parse passwd and group text into each account's groups (primary first, then those listing it). */
export function parseAccountFiles(passwd: string, group: string): Map<number, AccountEntry> {
  const groupName = new Map<number, string>();
  const members = new Map<string, string[]>();
  for (const line of group.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !f[0] || line.startsWith('#')) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    groupName.set(gid, f[0]);
    for (const m of f[3]!.split(',').map((s) => s.trim()).filter(Boolean)) members.set(m, [...(members.get(m) ?? []), f[0]]);
  }
  const out = new Map<number, AccountEntry>();
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || !f[0] || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || out.has(uid)) continue;
    const primary = groupName.get(gid);
    const groups = [...new Set([...(primary ? [primary] : []), ...(members.get(f[0]) ?? [])])];
    out.set(uid, { user: f[0], uid, gid, groups });
  }
  return out;
}

/** The files, parsed again when their inode, size or mtime change (a stat of each per request). */
export class FileAccountDb implements AccountLookup {
  private cache: { key: string; parsed: Parsed } | undefined;
  constructor(private readonly paths: { passwd: string; group: string } = { passwd: '/etc/passwd', group: '/etc/group' }) {}

  private current(): Parsed {
    const key = [this.paths.passwd, this.paths.group]
      .map((p) => {
        const st = statSync(p);
        return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
      })
      .join('|');
    if (this.cache?.key !== key) {
      this.cache = { key, parsed: { byUid: parseAccountFiles(readFileSync(this.paths.passwd, 'utf8'), readFileSync(this.paths.group, 'utf8')) } };
    }
    return this.cache.parsed;
  }

  byUid(uid: number): AccountEntry | undefined {
    return this.current().byUid.get(uid);
  }
}
