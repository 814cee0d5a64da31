// From `vm create` to the first SSH login on a cloud-init guest, timed and split into phases that
// add up: raptor's own work (vm create), vm start (libvirt), firmware (+shim, grub, until the
// kernel starts), kernel (+initramfs), systemd and cloud-init up to sshd's start (the host keys
// are cloud-init's), and sshd's start to the first answered login.
// Shared by `npm run demo` and `npm run bench`, so both report the same figure.
import { spawnSync } from 'node:child_process';
import type { Config } from '../../src/core/config.ts';

export interface SshReady {
  addr: string;
  fqdn: string;
  /** seconds from vm create's start to the first answered `ssh … hostname` */
  totalS: number;
  phases: { raptor: number; libvirtStart: number; firmware: number; kernel: number; cloudInit: number; sshd: number };
  hostname: string;
  ssh: (command: string) => { code: number; out: string; err: string };
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function createToSsh(o: {
  raptorArgv: string[];
  config: Config;
  vm: string;
  user: string;
  keyFile: string;
  createArgs: string[];
  timeoutS?: number;
}): Promise<SshReady> {
  // create and start as two commands, so raptor's work and libvirt's start are timed apart
  const t0 = now();
  const c = spawnSync(o.raptorArgv[0]!, [...o.raptorArgv.slice(1), 'vm', 'create', o.vm, ...o.createArgs], { encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`vm create ${o.vm} exited ${c.status}: ${c.stderr.trim()}`);
  const createdAt = now();
  const st = spawnSync(o.raptorArgv[0]!, [...o.raptorArgv.slice(1), 'vm', 'start', o.vm], { encoding: 'utf8' });
  if (st.status !== 0) throw new Error(`vm start ${o.vm} exited ${st.status}: ${st.stderr.trim()}`);
  const startedAt = now();

  const fqdn = `${o.vm}.${o.config.dns.zone}`;
  const dig = spawnSync('dig', [`@${o.config.dns.server}`, '-p', String(o.config.dns.port), '+short', fqdn, 'A'], { encoding: 'utf8' });
  const addr = dig.stdout.trim().split('\n')[0] ?? '';
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(addr)) throw new Error(`the sandbox DNS has no A record for ${fqdn}`);
  const ssh = (command: string, connectTimeoutS = 10) => {
    const r = spawnSync('ip', ['netns', 'exec', 'raptor-dhcp', 'ssh', '-i', o.keyFile, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', `HostKeyAlias=${fqdn}`, '-o', 'BatchMode=yes', '-o', `ConnectTimeout=${connectTimeoutS}`, '-o', 'LogLevel=ERROR', `${o.user}@${addr}`, command], { encoding: 'utf8', timeout: 120_000 });
    return { code: r.status ?? 1, out: r.stdout ?? '', err: r.stderr ?? '' };
  };

  const deadline = t0 + (o.timeoutS ?? 600) * 1000;
  let hostname = '';
  let readyAt = 0;
  for (;;) {
    const r = ssh('hostname', 2);
    if (r.code === 0) {
      hostname = r.out.trim();
      readyAt = now();
      break;
    }
    if (now() > deadline) throw new Error(`no SSH login to ${o.user}@${fqdn} (${addr}) within ${o.timeoutS ?? 600} s: ${r.err.trim()}`);
    await sleep(500);
  }

  // the guest's own clock (µs since its kernel started), mapped onto ours through /proc/uptime
  const before = now();
  const g = ssh('cat /proc/uptime; systemctl show -p UserspaceTimestampMonotonic --value; systemctl show ssh.service -p ExecMainStartTimestampMonotonic --value');
  const after = now();
  const [uptime, userspaceUs, sshdUs] = g.out.trim().split('\n').map((l) => Number(l.split(' ')[0]));
  if (g.code !== 0 || !uptime || !userspaceUs || !sshdUs) throw new Error(`cannot read the guest's boot timestamps: ${g.err || g.out}`);
  const kernelZero = (before + after) / 2 - uptime * 1000;
  const s = (ms: number) => Math.max(0, ms) / 1000;
  return {
    addr,
    fqdn,
    totalS: s(readyAt - t0),
    phases: {
      raptor: s(createdAt - t0),
      libvirtStart: s(startedAt - createdAt),
      firmware: s(kernelZero - startedAt),
      kernel: s(userspaceUs / 1000),
      cloudInit: s((sshdUs - userspaceUs) / 1000),
      sshd: s(readyAt - kernelZero - sshdUs / 1000),
    },
    hostname,
    ssh: (cmd) => ssh(cmd),
  };
}

export function formatPhases(r: SshReady): string {
  const p = r.phases;
  const f = (x: number) => x.toFixed(1);
  return `raptor ${f(p.raptor)} s | vm start ${f(p.libvirtStart)} s | firmware+shim+grub ${f(p.firmware)} s | kernel+initramfs ${f(p.kernel)} s | systemd+cloud-init to sshd ${f(p.cloudInit)} s | sshd to login ${f(p.sshd)} s`;
}
