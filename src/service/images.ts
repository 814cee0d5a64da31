// The image and flavour catalogues ([[images]], [[flavors]]) and what `vm create` derives from
// them and from its flags: sizes, the image to write, and the cloud-init seed's files.
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Config } from '../core/config.ts';
import { badInput } from '../core/errors.ts';
import { parseUserData, seedFiles, type CloudConfig } from '../core/cloud-init.ts';
import { domainName, type VmId } from '../core/naming.ts';
import { parseSize } from '../core/size.ts';
import { formatAuthorizedKey, type SshPublicKey } from '../access/ssh-keys.ts';
import type { CreateRequest } from '../plan/planner.ts';
import { inspectImage, type Context, type ImageInfo } from './vm.ts';

export interface ImageListEntry {
  name: string;
  path: string;
  format: 'raw' | 'qcow2';
  description: string | null;
  /** false: the catalogue names a file that is not there (not built yet, or removed) */
  present: boolean;
  virtualSize: number | null;
  fileSize: number | null;
}

/** Every catalogue image with what qemu-img says about it (sizes null when the file is missing). */
export async function listImages(ctx: Context): Promise<ImageListEntry[]> {
  const out: ImageListEntry[] = [];
  for (const img of ctx.config.images) {
    const base = { name: img.name, path: img.path, format: img.format, description: img.description ?? null };
    if (!existsSync(img.path)) {
      out.push({ ...base, present: false, virtualSize: null, fileSize: null });
      continue;
    }
    const info = await inspectImage(ctx, img.path);
    // allocated bytes, not the apparent size: a raw image is mostly holes
    out.push({ ...base, present: true, virtualSize: info.virtualSize, fileSize: statSync(img.path).blocks * 512 });
  }
  return out;
}

/**
 * `--image NAME|PATH`: a catalogue name first; anything else is a path (for admins). A catalogue
 * image must be the format the config declares: a raw image whose bytes look like qcow2 is refused.
 */
export async function resolveImage(ctx: Context, arg: string): Promise<{ info: ImageInfo; madeFrom: string }> {
  const entry = ctx.config.images.find((i) => i.name === arg);
  if (!entry) {
    if (!arg.includes('/') && !existsSync(arg)) {
      const known = ctx.config.images.map((i) => i.name).join(', ') || 'none configured';
      throw badInput(`image ${arg} not found: neither a catalogue image (${known}) nor a file`);
    }
    const info = await inspectImage(ctx, arg);
    return { info, madeFrom: info.path };
  }
  if (!existsSync(entry.path)) throw badInput(`image ${entry.name} is in the catalogue but its file ${entry.path} is missing`);
  const info = await inspectImage(ctx, entry.path);
  if (info.format !== entry.format) {
    throw badInput(`image ${entry.name}: the config says ${entry.format}, but ${entry.path} is ${info.format}`);
  }
  return { info, madeFrom: entry.name };
}

/** `--flavor NAME` (or none): the sizes, where a flag given wins over the flavour. */
export function resolveSizes(config: Config, flags: { flavor?: string; cpus?: number; memory?: string; disk?: string }) {
  const flavor = flags.flavor === undefined ? undefined : config.flavors.find((f) => f.name === flags.flavor);
  if (flags.flavor !== undefined && !flavor) {
    throw badInput(`flavour ${flags.flavor} not found (configured: ${config.flavors.map((f) => f.name).join(', ') || 'none'})`);
  }
  const need = (what: string) => badInput(`--${what} is required (or a --flavor that gives it)`);
  const cpus = flags.cpus ?? flavor?.cpus;
  const memory = flags.memory ?? flavor?.memory;
  const disk = flags.disk ?? flavor?.disk;
  if (cpus === undefined) throw need('cpus');
  if (memory === undefined) throw need('memory');
  if (disk === undefined) throw need('disk');
  return {
    cpus,
    memoryBytes: parseSize(memory, 'memory size'),
    diskBytes: parseSize(disk, 'disk size'),
    ...(flavor ? { flavor: flavor.name } : {}),
  };
}

/** `--user-data FILE`: read and validated before anything changes. */
export function readUserDataFile(path: string): CloudConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw badInput(`--user-data ${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseUserData(text, `--user-data ${path}`);
}

/** The seed's files for the UUID the plan settles on (a resumed create keeps the domain's). */
export function cloudInitFor(vm: VmId, keys: SshPublicKey[], extra: CloudConfig | undefined): NonNullable<CreateRequest['cloudInit']> {
  return (instanceId, console) =>
    seedFiles({ instanceId, hostname: domainName(vm), user: vm.user, sshKeys: keys.map(formatAuthorizedKey), console }, extra);
}
