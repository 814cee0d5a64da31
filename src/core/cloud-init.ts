// The cloud-init NoCloud seed's contents: meta-data and user-data (#cloud-config), merged with an
// admin's own cloud-config. Pure: values in, text out. Nothing secret goes in (public keys only).
import { isMap, parseDocument, stringify } from 'yaml';
import { badInput } from './errors.ts';

export type CloudConfig = Record<string, unknown>;

export interface SeedRequest {
  /** the domain's UUID: a new VM is a new instance to cloud-init */
  instanceId: string;
  /** {user}-{name} */
  hostname: string;
  /** the owner's account name inside the guest */
  user: string;
  /** authorized_keys lines for the owner */
  sshKeys: string[];
  /** which console the domain has, so the guest turns the same one on */
  console: 'virtio' | 'serial';
}

export const SEED_LABEL = 'CIDATA';
/** Admin cloud-config larger than this is refused: the seed is a small image, not a file store. */
export const MAX_USER_DATA_BYTES = 256 * 1024;

export function renderMetaData(r: SeedRequest): string {
  return stringify({ 'instance-id': r.instanceId, 'local-hostname': r.hostname }, { lineWidth: 0 });
}

/** What raptor asks of every cloud-init guest: the owner's account and a login on the console. */
export function raptorCloudConfig(r: SeedRequest): CloudConfig {
  const owner: CloudConfig = {
    name: r.user,
    shell: '/bin/bash',
    lock_passwd: true,
    // the owner administers their own VM, as on any cloud image's default user
    sudo: 'ALL=(ALL) NOPASSWD:ALL',
    ...(r.sshKeys.length ? { ssh_authorized_keys: r.sshKeys } : {}),
  };
  const tty = r.console === 'virtio' ? 'hvc0' : 'ttyS0';
  const grubDropIn = {
    path: '/etc/default/grub.d/90-raptor-console.cfg',
    permissions: '0644',
    content: `# raptor: the kernel's console is the VM's ${r.console} console\nGRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX console=${tty}"\n`,
  };
  const updateGrub = ['sh', '-c', 'if command -v update-grub >/dev/null 2>&1 && [ -d /boot/grub ]; then update-grub; fi'];
  // --no-reload: a daemon-reload costs seconds under emulation, and starting a template's instance needs none
  const getty = [
    ['systemctl', '--no-reload', 'enable', `serial-getty@${tty}.service`],
    ['systemctl', 'start', '--no-block', `serial-getty@${tty}.service`],
  ];
  if (r.console === 'serial') {
    return { users: [owner], ssh_pwauth: false, write_files: [grubDropIn], runcmd: [...getty, updateGrub] };
  }
  return {
    users: [owner],
    ssh_pwauth: false,
    // loaded now (bootcmd runs early, at every boot) and by systemd at every later boot
    bootcmd: [['modprobe', 'virtio_console']],
    write_files: [{ path: '/etc/modules-load.d/raptor-virtio-console.conf', permissions: '0644', content: 'virtio_console\n' }, grubDropIn],
    runcmd: [...getty, updateGrub],
  };
}

const NOT_CLOUD_CONFIG = /^(#!|#include|#cloud-boothook|#part-handler|#upstart-job|#cloud-config-archive|#cloud-config-jsonp|## template:)/;

/** An admin's --user-data file: a #cloud-config YAML mapping, or bad input (exit 2) saying why. */
export function parseUserData(text: string, source: string): CloudConfig {
  if (Buffer.byteLength(text) > MAX_USER_DATA_BYTES) throw badInput(`${source}: user-data larger than ${MAX_USER_DATA_BYTES / 1024} KiB`);
  if (text.includes('\0')) throw badInput(`${source}: user-data is not text`);
  const first = text.split('\n', 1)[0]!.trim();
  if (NOT_CLOUD_CONFIG.test(first)) {
    throw badInput(`${source}: only #cloud-config user-data can be merged (found "${first.slice(0, 40)}")`);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  const err = doc.errors[0];
  if (err) {
    const line = err.linePos?.[0]?.line;
    throw badInput(`${source}: not valid YAML${line ? ` (line ${line})` : ''}: ${err.message.split('\n')[0]}`);
  }
  if (doc.contents === null) return {};
  if (!isMap(doc.contents)) throw badInput(`${source}: user-data must be a YAML mapping (key: value), not a ${Array.isArray(doc.toJS()) ? 'list' : 'scalar'}`);
  return doc.toJS({ maxAliasCount: 100 }) as CloudConfig;
}

const isPlainObject = (v: unknown): v is CloudConfig => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Merge the admin's cloud-config into raptor's: mappings merge key by key, lists are appended
 * (raptor's entries first, so `users`, `write_files` and `runcmd` keep both), and for any other
 * value the admin's wins.
 */
export function mergeCloudConfig(base: CloudConfig, extra: CloudConfig): CloudConfig {
  const out: CloudConfig = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    if (isPlainObject(b) && isPlainObject(v)) out[k] = mergeCloudConfig(b, v);
    else if (Array.isArray(b) && Array.isArray(v)) out[k] = [...(b as unknown[]), ...(v as unknown[])];
    else out[k] = v;
  }
  return out;
}

export function renderUserData(config: CloudConfig): string {
  return `#cloud-config\n${stringify(config, { lineWidth: 0 })}`;
}

/** Both files of the seed, from the request and an optional admin cloud-config. */
export function seedFiles(r: SeedRequest, extra?: CloudConfig): { metaData: string; userData: string } {
  const config = extra ? mergeCloudConfig(raptorCloudConfig(r), extra) : raptorCloudConfig(r);
  return { metaData: renderMetaData(r), userData: renderUserData(config) };
}
