// Config schema and defaults (docs/house-rules.md). The defaults describe the real raptor host (NixOS).
import { z } from 'zod';
import { parse as parseToml, TomlError } from 'smol-toml';
import { badInput } from './errors.ts';
import { hostNameProblem } from './naming.ts';
import { parseCpuList } from './cpus.ts';
import { parseSize } from './size.ts';
import { webConfigSchema } from './web-config.ts';

const bridgeNumber = (name: string): number | undefined => {
  const m = /(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
};

/** Fill `{nn}` (two hex digits) or `{n}` (decimal) in the MAC pattern with the bridge's number. */
export function macForBridge(pattern: string, bridgeName: string): string | undefined {
  const n = bridgeNumber(bridgeName);
  if (n === undefined || n > 255) return undefined;
  return pattern.replace('{nn}', n.toString(16).padStart(2, '0')).replace('{n}', String(n)).toLowerCase();
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const bridgeSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'an interface name of 1-15 characters'),
    mac: z.string().regex(MAC_RE, 'a MAC address like 52:54:00:00:00:01').optional(),
    ipv4: z.string().regex(IPV4_RE, 'an IPv4 address').optional(),
    ipv6: z.string().regex(/^[0-9a-fA-F:]+$/, 'an IPv6 address').optional(),
  })
  .strict();

const CATALOGUE_NAME = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'a name of a-z, 0-9, ".", "_" and "-" (no "/")');
const isSize = (v: string): boolean => {
  try {
    parseSize(v);
    return true;
  } catch {
    return false;
  }
};
const sizeText = z.string().refine(isSize, 'a size like "20G" or "512M"');

// A disk image users may ask for by name (`vm create --image NAME`).
const imageSchema = z
  .object({
    name: CATALOGUE_NAME,
    path: z.string().startsWith('/', 'an absolute path'),
    format: z.enum(['raw', 'qcow2']),
    description: z.string().optional(),
  })
  .strict();

// A named size (`vm create --flavor NAME`): what the flags do not give.
const flavorSchema = z
  .object({
    name: CATALOGUE_NAME,
    cpus: z.number().int().min(1).max(4096),
    memory: sizeText,
    disk: sizeText,
  })
  .strict();
// quota sizes are written as on the command line ("16G"); unset keys mean no limit
const quotaLimits = {
  vms: z.number().int().min(0).optional(),
  vcpus: z.number().int().min(0).optional(),
  memory: sizeText.optional(),
  disk: sizeText.optional(),
};
const quotasSchema = z
  .object({
    ...quotaLimits,
    users: z.record(z.string().regex(/^[a-z_][a-z0-9_]{0,31}$/, 'a user name'), z.object(quotaLimits).strict()).default({}),
  })
  .strict()
  .default({});

const cpuListRe = /^$|^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** RFC 2181 §8: a TTL is at most 2^31 - 1 seconds; larger values wrap on the wire. */
export const MAX_TTL = 2147483647;
/** Longest a shutdown may be waited for: an hour. */
export const MAX_SHUTDOWN_TIMEOUT_S = 3600;

const throwsNot = (fn: () => unknown): boolean => {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
};
const cpuList = (re: RegExp, what: string) =>
  z.string().regex(re, what).refine((v) => v === 'own-last-2' || throwsNot(() => parseCpuList(v, 'CPU list')), 'CPU numbers from 0 to 65535, ranges low-high');
const domainName = z.string().refine((v) => hostNameProblem(v) === undefined, 'a domain name of letters, digits and "-" labels (at most 63 characters each, 253 in all)');
// reverse zones may hold RFC 2317 classless labels such as "0/25"
const reverseZoneName = z.string().regex(/^([A-Za-z0-9_/-]{1,63}\.)*[A-Za-z0-9_/-]{1,63}\.?$/, 'a domain name').max(254);

export const configSchema = z
  .object({
    libvirt_uri: z.string().default('qemu:///system'),
    /** how raptor talks to libvirt: the virsh tool, or libvirt's own protocol on its Unix socket (docs/libvirt-rpc.md) */
    libvirt_client: z.enum(['virsh', 'rpc']).default('virsh'),
    domain_type: z.enum(['kvm', 'qemu']).default('kvm'),
    machine: z.string().default('q35'),
    console: z.enum(['virtio', 'serial']).default('virtio'),
    nvram_dir: z.string().default('/var/lib/libvirt/qemu/nvram'),
    /** each VM's cloud-init NoCloud seed image ({user}-{name}-cidata.img) */
    seed_dir: z.string().startsWith('/', 'an absolute path').default('/var/lib/raptor/seeds'),
    images: z.array(imageSchema).default([]),
    flavors: z.array(flavorSchema).default([]),
    /** virtlogd keeps each VM's console output here (`vm console --log`, `--wait-for`) */
    console_log_dir: z.string().default('/var/log/libvirt/qemu'),
    lock_file: z.string().default('/run/raptor/raptor.lock'),
    audit_log: z.string().default('/var/log/raptor/audit.jsonl'),
    shutdown_timeout_s: z.number().int().min(1).max(MAX_SHUTDOWN_TIMEOUT_S).default(60),
    firmware: z
      .object({
        code: z.string().default('/run/libvirt/nix-ovmf/OVMF_CODE.fd'),
        vars: z.string().default('/run/libvirt/nix-ovmf/OVMF_VARS.fd'),
      })
      .strict()
      .default({}),
    cpus: z
      .object({
        reserved: cpuList(cpuListRe, 'a CPU list like "0-3" or "0,2,4-7"').default('0-3'),
        emulator: cpuList(/^own-last-2$|^\d+(-\d+)?(,\d+(-\d+)?)*$/, '"own-last-2" or a CPU list').default('own-last-2'),
      })
      .strict()
      .default({}),
    storage: z
      .object({
        vg: z.string().regex(/^[A-Za-z0-9+_.-]+$/, 'a volume group name').default('lvm-data'),
        lvm_command: z.string().default('lvm'),
        wipe_step: z.string().refine((v) => throwsNot(() => parseSize(v)), 'a size like 256M or 1G').default('256M'),
      })
      .strict()
      .default({}),
    network: z
      .object({
        mac_pattern: z.string().default('52:54:00:00:00:{nn}'),
      })
      .strict()
      .default({}),
    bridges: z
      .array(bridgeSchema)
      .default(['br-vm1', 'br-vm2', 'br-vm3', 'br-vm4', 'br-vm5'].map((name) => ({ name }))),
    dns: z
      .object({
        enabled: z.boolean().default(true),
        server: z.string().default('127.0.0.1'),
        port: z.number().int().min(1).max(65535).default(53),
        zone: domainName.default('raptor.michai.li'),
        reverse_zones: z.array(reverseZoneName).default([]),
        ttl: z.number().int().min(0).max(MAX_TTL).default(300),
        tsig_key_file: z.string().default('/etc/raptor/tsig.key'),
        tsig_algorithm: z.enum(['hmac-sha256', 'hmac-sha512']).default('hmac-sha256'),
      })
      .strict()
      .default({}),
    access: z
      .object({
        admin_groups: z.array(z.string()).default(['libvirt', 'libvirtd', 'wheel']),
        user_group: z.string().default('vm-users'),
        polkit_rules_file: z.string().default('/etc/polkit-1/rules.d/60-raptor.rules'),
        // which accounts raptor made (root-only JSON); `user remove` deletes only those
        accounts_file: z.string().default('/var/lib/raptor/accounts.json'),
        // libvirt daemon configs that must say access_drivers = [ "polkit" ]. Unset: the host's own,
        // found at run time (/etc/libvirt/libvirtd.conf and every modular virt*d.conf that exists).
        libvirt_daemon_configs: z.array(z.string().min(1)).min(1).optional(),
        // accounts are declared in the system configuration (NixOS users.mutableUsers = false):
        // user add/remove refuse and print the configuration to add instead
        declarative_users: z.boolean().default(false),
      })
      .strict()
      .default({}),
    quotas: quotasSchema,
    web: webConfigSchema,
  })
  .strict();

type RawConfig = z.infer<typeof configSchema>;
export type BridgeConfig = { name: string; mac: string; ipv4?: string | undefined; ipv6?: string | undefined };
export type Config = Omit<RawConfig, 'bridges'> & { bridges: BridgeConfig[] };

/** A config problem in words; never the value found, which may come from any file. */
function issueText(issue: z.ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return 'unknown key';
    case 'invalid_type':
      return `expected ${issue.expected === 'integer' ? 'a whole number' : `a ${issue.expected}`}`;
    case 'invalid_enum_value':
      return `must be one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}`;
    case 'too_big':
      return issue.type === 'number' ? `must be at most ${String(issue.maximum)}` : `too long (at most ${String(issue.maximum)})`;
    case 'too_small':
      return issue.type === 'number' ? `must be at least ${String(issue.minimum)}` : `too short (at least ${String(issue.minimum)})`;
    default:
      return issue.message;
  }
}

/** Validate a parsed TOML document (or {} for built-in defaults) into the effective config. */
export function resolveConfig(doc: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(doc);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = [...issue.path, ...keys.slice(0, 1)].map(String).join('.') || '(top level)';
    const what = issueText(issue);
    throw badInput(`${source}: ${path}: ${what}`);
  }
  const raw = result.data;
  const bridges: BridgeConfig[] = raw.bridges.map((b, i) => {
    const mac = b.mac ?? macForBridge(raw.network.mac_pattern, b.name);
    if (!mac || !MAC_RE.test(mac)) {
      throw badInput(`${source}: bridges.${i}.mac: no MAC given and none derivable from network.mac_pattern for ${b.name}`);
    }
    return { ...b, mac: mac.toLowerCase() };
  });
  for (const key of ['images', 'flavors'] as const) {
    const names = new Set<string>();
    for (const x of raw[key]) {
      if (names.has(x.name)) throw badInput(`${source}: ${key}: ${x.name} appears twice`);
      names.add(x.name);
    }
  }
  const seen = new Set<string>();
  for (const b of bridges) {
    for (const k of [b.name, b.mac]) {
      if (seen.has(k)) throw badInput(`${source}: bridges: ${k} appears twice`);
      seen.add(k);
    }
  }
  return { ...raw, bridges };
}

export function parseConfigText(text: string, source: string): Config {
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch (err) {
    const msg = err instanceof TomlError ? err.message.split('\n')[0] : String(err);
    throw badInput(`${source}: not valid TOML: ${msg}`);
  }
  return resolveConfig(doc, source);
}

export const defaultConfig = (): Config => resolveConfig({});
