// Whether the running libvirt daemons see the paths ordinary users can create files in. A daemon
// in its own mount namespace (systemd's PrivateTmp/ProtectHome/TemporaryFileSystem, or the
// sandbox's unshare) sees other directories there than the host does: compare device and inode
// of each path as the host sees it and through /proc/PID/root.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { USER_WRITABLE_PATHS } from './confinement.ts';

export interface DaemonView {
  pid: number;
  name: string;
  /** user-writable paths the daemon sees exactly as the host does */
  exposed: string[];
  hidden: string[];
}

const DAEMONS = new Set(['libvirtd', 'virtqemud']);

/** libvirtd / virtqemud processes run by root (read-only look at /proc). */
export function libvirtDaemons(proc = '/proc'): { pid: number; name: string }[] {
  const out: { pid: number; name: string }[] = [];
  for (const p of readdirSync(proc)) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const name = readFileSync(`${proc}/${p}/comm`, 'utf8').trim();
      if (!DAEMONS.has(name)) continue;
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`${proc}/${p}/status`, 'utf8'))?.[1];
      if (uid === '0') out.push({ pid: Number(p), name });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

const id = (path: string): string | undefined => {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
};

export function daemonView(pid: number, name: string, proc = '/proc'): DaemonView {
  const exposed: string[] = [];
  const hidden: string[] = [];
  for (const p of USER_WRITABLE_PATHS) {
    const host = id(p);
    if (host === undefined) continue; // the host has no such place
    (id(`${proc}/${pid}/root${p}`) === host ? exposed : hidden).push(p);
  }
  return { pid, name, exposed, hidden };
}
