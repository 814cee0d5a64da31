// Integration-test helpers: run the built raptor CLI against the sandbox, snapshot host state.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, readSync, closeSync, writeSync, fsyncSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, type Config } from '../../../src/core/config.ts';
import { dig } from './dns-servers.ts';

export const SANDBOX_CONFIG = process.env.RAPTOR_SANDBOX_CONFIG ?? '/run/raptor-sandbox/raptor.toml';
const ROOT = new URL('../../../', import.meta.url).pathname;
export const RAPTOR = `${ROOT}dist/raptor.mjs`;

export function requireSandbox(): void {
  if (!existsSync(SANDBOX_CONFIG)) {
    throw new Error(`sandbox is not up (${SANDBOX_CONFIG} missing): run scripts/sandbox up, or npm test which does it`);
  }
}

/** The sandbox config with a short shutdown timeout: firmware-only guests ignore ACPI shutdown. */
export function testConfigPath(overrides = 'shutdown_timeout_s = 3'): string {
  requireSandbox();
  const path = `/run/raptor-sandbox/raptor-test-${process.pid}.toml`;
  const base = readFileSync(SANDBOX_CONFIG, 'utf8').replace(/^shutdown_timeout_s\s*=.*$/m, '');
  writeFileSync(path, `${overrides}\n${base}`);
  return path;
}

export function loadTestConfig(path: string): Config {
  return parseConfigText(readFileSync(path, 'utf8'), path);
}

export interface RunOut {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  json: unknown;
}

export function raptor(args: string[], opts: { config?: string; env?: Record<string, string>; input?: string } = {}): Promise<RunOut> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RAPTOR, ...(opts.config ? ['--config', opts.config] : []), ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(opts.input ?? '');
    child.on('close', (code, signal) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

export const sh = (argv: string[], input?: string): string =>
  execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, ...(input !== undefined ? { input } : {}) });

/** virsh define from a string (through a file: /dev/stdin is a socket under Node). */
export function defineXml(xml: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-test-'));
  try {
    writeFileSync(join(dir, 'd.xml'), xml);
    sh(['virsh', '-c', 'qemu:///system', 'define', join(dir, 'd.xml')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function virshNames(): string[] {
  return sh(['virsh', '-c', 'qemu:///system', 'list', '--all', '--name']).split('\n').map((s) => s.trim()).filter(Boolean).sort();
}

export function dumpxml(name: string): string {
  return sh(['virsh', '-c', 'qemu:///system', 'dumpxml', name]);
}

export function lvm(config: Config, args: string[]): string {
  return sh([config.storage.lvm_command, ...args]);
}

export interface LvRow {
  name: string;
  sizeBytes: number;
  tags: string[];
}

export function lvList(config: Config): LvRow[] {
  const out = JSON.parse(lvm(config, ['lvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'lv_name,lv_size,lv_tags', config.storage.vg])) as {
    report: { lv: Record<string, string>[] }[];
  };
  return out.report[0]!.lv.map((r) => ({ name: r.lv_name!, sizeBytes: Number(r.lv_size), tags: (r.lv_tags ?? '').split(',').filter(Boolean) })).sort((a, b) => a.name.localeCompare(b.name));
}

/** Where an LV's bytes live on the PV: [pv device, byte offset, byte length]. */
export function lvPlacement(config: Config, lv: string): { pv: string; offset: number; length: number } {
  const seg = JSON.parse(lvm(config, ['lvs', '--segments', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'lv_name,seg_size,devices', `${config.storage.vg}/${lv}`])) as {
    report: { seg: Record<string, string>[] }[];
  };
  const rows = seg.report[0]!.seg;
  if (rows.length !== 1) throw new Error(`${lv}: ${rows.length} segments`);
  const m = /^(.+)\((\d+)\)$/.exec(rows[0]!.devices!)!;
  const pv = m[1]!;
  const pe = Number(m[2]);
  const pvs = JSON.parse(lvm(config, ['pvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'pv_name,pe_start', pv])) as { report: { pv: Record<string, string>[] }[] };
  const vgs = JSON.parse(lvm(config, ['vgs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'vg_extent_size', config.storage.vg])) as { report: { vg: Record<string, string>[] }[] };
  const peStart = Number(pvs.report[0]!.pv[0]!.pe_start);
  const ext = Number(vgs.report[0]!.vg[0]!.vg_extent_size);
  return { pv, offset: peStart + pe * ext, length: Number(rows[0]!.seg_size) };
}

export function readBytes(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export function writeBytes(path: string, offset: number, data: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, data, 0, data.length, offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function nvramFiles(config: Config): string[] {
  return existsSync(config.nvram_dir) ? readdirSync(config.nvram_dir).sort() : [];
}

/** Everything a raptor command could change, to prove that a refused command changed nothing. */
export function hostSnapshot(config: Config): string {
  return JSON.stringify({ domains: virshNames(), lvs: lvList(config), nvram: nvramFiles(config), seeds: seedFiles(config) });
}

/** The cloud-init seed images in the seed directory. */
export function seedFiles(config: Config): string[] {
  return existsSync(config.seed_dir) ? readdirSync(config.seed_dir).sort() : [];
}

/** What the sandbox's DNS server answers (dig, independent of raptor's own client). */
export function dnsAnswers(config: Config, name: string, type: string): string[] {
  return dig(config.dns.port, name, type);
}

/** Remove what a test left behind: domains and LVs by name (no wipe: test data only), then stale DNS. */
export function cleanup(config: Config, vmIds: string[]): void {
  for (const id of vmIds) {
    try {
      sh(['virsh', '-c', 'qemu:///system', 'destroy', id]);
    } catch {
      /* not running */
    }
    try {
      sh(['virsh', '-c', 'qemu:///system', 'undefine', '--nvram', id]);
    } catch {
      /* not defined */
    }
    try {
      lvm(config, ['lvremove', '-y', `${config.storage.vg}/guest-${id}`]);
    } catch {
      /* no LV */
    }
    rmSync(`${config.seed_dir}/${id}-cidata.img`, { force: true });
  }
  // records of VMs that no longer exist are stale: raptor's own repair removes them
  execFileSync(process.execPath, [RAPTOR, '--config', SANDBOX_CONFIG, 'dns', 'sync'], { stdio: 'ignore' });
}
