// Integration helpers for accounts and access: run commands as a real user, make and remove the
// test's accounts, groups and tiny domains, snapshot the account files.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync } from 'node:fs';
import { RAPTOR, SANDBOX_CONFIG, defineXml, requireSandbox } from './raptor.ts';

export { defineXml };

export const URI = 'qemu:///system';

export interface Out {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Keys made with ssh-keygen for these tests (private halves not kept). */
export const TEST_KEYS = {
  alice: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZ/H9cmNpoCbawjwCGpCKyA3ZGaCJaoYqimsfv2EnwG alice@laptop',
  bob: 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBM/2tMRpss8X26+LoP1P9AJg3ZDUCYOUn91GVYD95T7t1uBNjJ0XmPGtmcazzZcrSdDgV/hf49BToCYwN0P5+sM= bob@desk',
  rsa2048:
    'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCYTLWzxa7m57qsfmns+RunXCaWYOkbMgNMcEnm2YTDl2qdHRUGN3+QYBxMyNS+ZZfglFQcGmzilhhhA4603YteYvhC1mmJ0AMZtdG8RZnMzkyNrNRdb3yXd2o1uYbiv5kpgkfFVIH190gNyrXdNOEs3re9ha30THSLzpCJg4s7IzpHVYjRruB+b0Mt8AP+Dy3kOM+zgiZ1R54Mn9an6HXK1h1xuvGT0mZRZy/Rsbcv6wVK9N9yzVtS68A5f60AwOpOKgPcc6uqghXrjXI+LO+EA2hgxlfXQWn60m6FrqY4r9zUuYcawSocPRVdctNOBR9Bkz+PIiAr5XQryAoZfH7z rsa@vm',
  rsa1024:
    'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDN1SUywIHAGfv3LwAsnnUfcDW+Tark1igIx4lz9nKdI3djxMKeZb/u4izGwa7ROeJGti3QU7nQLLOcoTVx0lhpYLIXtbJjr50mCBiCqC0QNZP73CIDQI7H4leXSudqRTuNoNyaXuM720JtjQzSM1D4d5R6Kvo0R8YbkzFurGsPqQ== weak@vm',
  private: '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n',
};

/** Run argv as root (the test runs as root), never through a shell. */
export function root(argv: string[], input?: string): Out {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, ...(input !== undefined ? { input } : {}) });
  return { code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

export function rootOk(argv: string[], input?: string): string {
  const r = root(argv, input);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** The environment a login of `user` would have, minus the shell. */
function userEnv(user: string): Record<string, string> {
  const home = getent('passwd', user)?.split(':')[5] ?? '/';
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, USER: user, LOGNAME: user, LC_ALL: 'C', LANG: 'C' };
}

/** Run argv as `user` (runuser: real uid, gids from the group database, so polkit sees that user). */
export function asUser(user: string, argv: string[], opts: { timeoutMs?: number } = {}): Out {
  const r = spawnSync('runuser', ['-u', user, '--', ...argv], { encoding: 'utf8', env: userEnv(user), timeout: opts.timeoutMs ?? 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** raptor as `user`. */
export const raptorAs = (user: string, config: string, args: string[]): Out => asUser(user, [process.execPath, RAPTOR, '--config', config, ...args]);

/**
 * `virsh console` as `user` on a pseudo-terminal (virsh refuses a console without one), for
 * `ms`, then killed: what it printed says whether it connected.
 */
export function consoleAs(user: string, domain: string, ms = 3000): Promise<Out> {
  return new Promise((resolve) => {
    const py = 'import pty,sys; pty.spawn(sys.argv[1:])';
    const child = spawn('runuser', ['-u', user, '--', 'python3', '-c', py, 'virsh', '-c', URI, 'console', '--force', domain], {
      env: userEnv(user),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    const seen = (d: Buffer) => {
      out += d.toString();
      // connected, or refused: either way the answer is in; leave the console
      if (/Connected to domain|error:/.test(out)) setTimeout(kill, 300);
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    const timer = setTimeout(kill, ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out, stderr: out });
    });
  });
}

export function getent(db: 'passwd' | 'group', key: string): string | undefined {
  const r = root(['getent', db, key]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export const userExists = (u: string): boolean => getent('passwd', u) !== undefined;
export const groupExists = (g: string): boolean => getent('group', g) !== undefined;

/** Remove an account the test made (and its home); quiet when it is not there. */
export function removeAccount(user: string): void {
  if (!userExists(user)) return;
  const uid = Number(getent('passwd', user)!.split(':')[2]);
  if (uid < 1000) throw new Error(`refusing to remove system account ${user}`);
  root(['pkill', '-KILL', '-u', user]);
  root(['userdel', '--remove', user]);
}

/** A copy of the sandbox config, readable by the test users, that the test may delete afterwards. */
export function accessConfigPath(): string {
  requireSandbox();
  const path = `/run/raptor-sandbox/raptor-access-${process.pid}.toml`;
  copyFileSync(SANDBOX_CONFIG, path);
  chmodSync(path, 0o644);
  return path;
}

export const IMAGE_DIR = '/var/lib/libvirt/images';

/** A tiny TCG domain with a 16 MiB qcow2 disk (so internal snapshots work) and a pty console. */
export function domainXml(name: string, extra = ''): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>${extra}
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${IMAGE_DIR}/${name}.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <console type='pty'><target type='serial'/></console>
  </devices>
</domain>
`;
}

export function defineTinyDomain(name: string): void {
  rootOk(['mkdir', '-p', IMAGE_DIR]);
  if (!existsSync(`${IMAGE_DIR}/${name}.qcow2`)) rootOk(['qemu-img', 'create', '-q', '-f', 'qcow2', `${IMAGE_DIR}/${name}.qcow2`, '16M']);
  defineXml(domainXml(name));
}

export function domainState(name: string): string | undefined {
  const r = root(['virsh', '-c', URI, 'domstate', name]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export function removeTinyDomain(name: string): void {
  root(['virsh', '-c', URI, 'destroy', name]);
  const snaps = root(['virsh', '-c', URI, 'snapshot-list', '--name', name]).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  for (const s of snaps) root(['virsh', '-c', URI, 'snapshot-delete', name, s]);
  root(['virsh', '-c', URI, 'undefine', '--snapshots-metadata', '--nvram', name]);
  root(['rm', '-f', `${IMAGE_DIR}/${name}.qcow2`]);
}

/** /etc/passwd, /etc/group, /etc/shadow, /etc/gshadow and the given authorized_keys, to prove "unchanged". */
export function accountFiles(extra: string[] = []): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const f of ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow', ...extra]) out[f] = existsSync(f) ? readFileSync(f, 'utf8') : null;
  return out;
}

/** Wait until `probe` holds (polkitd reloads rules files asynchronously). */
export async function waitFor(what: string, probe: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (probe()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let built = false;
/** Build dist/raptor.mjs from the current source once per test process (esbuild: well under a second). */
export function ensureBuilt(): void {
  if (built) return;
  rootOk([process.execPath, new URL('../../../scripts/build.mjs', import.meta.url).pathname]);
  built = true;
}
