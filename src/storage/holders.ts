// Who holds a block device: processes with it open or mapped (as fuser finds them, by device
// number), kernel holders in sysfs, loop devices over it, mounts, swap, and exclusive claims.
// Works the same for a device-mapper LV (/dev/dm-N) and the sandbox's loop stand-in (/dev/loopN).
import { closeSync, constants, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { VolumeHolder, VolumeUse } from './volume-use.ts';
import { describeCommand } from './volume-use.ts';

/** Linux dev_t as the kernel encodes it (major 12 bits + 20, minor 8 + 12 bits; glibc's gnu_dev_*). */
export function majorMinor(rdev: number): [number, number] {
  const dev = BigInt(rdev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  return [major, minor];
}

const readOr = (path: string, fallback = ''): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
};

interface MountPoint {
  point: string;
  nodev: boolean;
}

/** The mounts of a process's mount namespace (cached per namespace). */
function mountsOf(pid: number, cache: Map<string, MountPoint[]>): MountPoint[] {
  let ns = '';
  try {
    ns = readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    /* gone or unreadable: fall back to our own view */
  }
  const cached = cache.get(ns);
  if (cached) return cached;
  const mounts: MountPoint[] = [];
  for (const line of readOr(`/proc/${pid}/mountinfo`, readOr('/proc/self/mountinfo')).split('\n')) {
    const f = line.split(' ');
    if (f.length > 5) mounts.push({ point: unescapeMount(f[4]!), nodev: f[5]!.split(',').includes('nodev') });
  }
  // longest mount point first: the first that contains a path is the one it lives on
  mounts.sort((a, b) => b.point.length - a.point.length);
  cache.set(ns, mounts);
  return mounts;
}

const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

const onNodev = (path: string, mounts: MountPoint[]): boolean =>
  mounts.find((m) => m.point === '/' || path === m.point || path.startsWith(`${m.point}/`))?.nodev ?? false;

/**
 * Everything holding the block device at `path` (a symlink such as /dev/lvm-data/guest-x is
 * followed). `ownDomain`: the libvirt domain whose qemu (found by libvirt's pid file, confirmed by
 * its command line) is expected to hold it; that process is reported with ownQemu set.
 * Undefined when there is no device node (an inactive LV).
 */
export function findVolumeHolders(path: string, opts: { ownDomain?: string; libvirtRunDir?: string } = {}): VolumeUse | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!st.isBlockDevice()) return { device: path, holders: [], unreadable: [] };
  const rdev = st.rdev;
  const [major, minor] = majorMinor(rdev);
  const device = realpathSync(path);
  const holders: VolumeHolder[] = [];
  const isTarget = (p: string): boolean => {
    try {
      const s = statSync(p);
      return s.isBlockDevice() && s.rdev === rdev;
    } catch {
      return false;
    }
  };

  // kernel users: device-mapper/md/bcache stacked on it (sysfs holders)
  const sys = `/sys/dev/block/${major}:${minor}`;
  for (const h of safeReaddir(`${sys}/holders`)) {
    const dmName = readOr(`${sys}/holders/${h}/dm/name`).trim();
    holders.push({ kind: 'sysfs-holder', device: dmName ? `${h} (${dmName})` : h });
  }
  // loop devices whose backing file is this device (the loop driver holds it without a process)
  for (const dev of safeReaddir('/sys/block')) {
    if (!dev.startsWith('loop')) continue;
    const backing = readOr(`/sys/block/${dev}/loop/backing_file`).trim().replace(/ \(deleted\)$/, '');
    if (backing && isTarget(backing)) holders.push({ kind: 'loop', device: `/dev/${dev}` });
  }
  for (const line of readOr('/proc/self/mountinfo').split('\n')) {
    const f = line.split(' ');
    if (f[2] === `${major}:${minor}`) holders.push({ kind: 'mount', target: unescapeMount(f[4]!) });
  }
  for (const line of readOr('/proc/swaps').split('\n').slice(1)) {
    const p = line.split(/\s+/)[0];
    if (p && isTarget(unescapeMount(p))) holders.push({ kind: 'swap' });
  }

  const own = opts.ownDomain !== undefined ? ownQemuPid(opts.ownDomain, opts.libvirtRunDir ?? '/run/libvirt/qemu') : undefined;
  const unreadable: number[] = [];
  const nsCache = new Map<string, MountPoint[]>();
  for (const entry of safeReaddir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const found = processHolds(pid, isTarget, nsCache);
    if (found === 'unreadable') {
      unreadable.push(pid);
      continue;
    }
    if (!found) continue;
    const command = describeCommand(readOr(`/proc/${pid}/cmdline`), readOr(`/proc/${pid}/comm`));
    holders.push({ kind: 'process', pid, command, ownQemu: own === pid });
  }

  // an exclusive claim nothing above explains (e.g. held by a process in another pid namespace)
  if (!holders.some((h) => h.kind !== 'process' || !h.ownQemu)) {
    try {
      closeSync(openSync(path, constants.O_RDONLY | constants.O_EXCL));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EBUSY') holders.push({ kind: 'exclusive' });
    }
  }
  return { device, holders, unreadable };
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Does `pid` have the device open (fd) or mapped (maps)? Device nodes on nodev mounts are skipped unstat'ed. */
function processHolds(pid: number, isTarget: (p: string) => boolean, nsCache: Map<string, MountPoint[]>): boolean | 'unreadable' {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'unreadable' : false;
  }
  let mounts: MountPoint[] | undefined;
  const candidate = (target: string): boolean => {
    // sockets, pipes and anon inodes are never block devices; nodev mounts (user FUSE mounts
    // are always nodev) cannot hold an openable device node, and stat there could hang
    if (!target.startsWith('/')) return false;
    mounts ??= mountsOf(pid, nsCache);
    return !onNodev(target, mounts);
  };
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (candidate(target) && isTarget(`/proc/${pid}/fd/${fd}`)) return true;
  }
  const seen = new Set<string>();
  for (const line of readOr(`/proc/${pid}/maps`).split('\n')) {
    // address perms offset dev inode path
    const m = /^([0-9a-f]+-[0-9a-f]+) \S+ \S+ (\S+) (\d+)\s+(\/.*)$/.exec(line);
    if (!m || m[3] === '0') continue;
    const key = `${m[2]} ${m[3]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (candidate(m[4]!.replace(/ \(deleted\)$/, '')) && isTarget(`/proc/${pid}/map_files/${m[1]}`)) return true;
  }
  return false;
}

/** The pid of the domain's qemu: libvirt's pid file, trusted only if that process names the domain. */
export function ownQemuPid(domain: string, runDir: string): number | undefined {
  const pid = Number(readOr(`${runDir}/${basename(domain)}.pid`).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const args = readOr(`/proc/${pid}/cmdline`).split('\0');
  // libvirt starts qemu with `-name guest=NAME,debug-threads=on` (commas in NAME doubled)
  const i = args.indexOf('-name');
  const value = i >= 0 ? args[i + 1] ?? '' : '';
  const guest = /^guest=((?:[^,]|,,)*)/.exec(value)?.[1]?.replace(/,,/g, ',');
  return guest === domain ? pid : undefined;
}
