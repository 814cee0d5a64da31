// When a process started, from /proc: NixOS rewrites libvirtd.conf on a switch without restarting
// libvirtd, so `host check` compares the daemon's start with the config file's last change.
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second (USER_HZ): 100 on every Linux ABI raptor runs on. */
const USER_HZ = 100;

/** Wall-clock start of process `pid` in ms, or undefined when it is not there. */
export function processStartMs(pid: number, proc = '/proc'): number | undefined {
  try {
    const stat = readFileSync(`${proc}/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after its last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync(`${proc}/stat`, 'utf8'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(btime)) return undefined;
    return btime * 1000 + (startTicks / USER_HZ) * 1000;
  } catch {
    return undefined;
  }
}
