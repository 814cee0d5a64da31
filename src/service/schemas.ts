// The service's requests and results, each with its zod schema, in one place: the CLI builds
// requests from flags (and a server would from JSON), and the `--json` results keep these shapes.
import { z } from 'zod';
import { badInput } from '../core/errors.ts';
import { parseSize } from '../core/size.ts';
import type { VmInfo } from './vm.ts';
import type { PendingChange } from './lab.ts';
import type { DnsSyncResult as DnsSyncResultType } from './dns.ts';

const isSize = (v: string): boolean => {
  try {
    parseSize(v);
    return true;
  } catch {
    return false;
  }
};
const size = z.string().refine(isSize, 'a size like "20G" or "512M"');

/**
 * `vm create` (over HTTP: the body of POST /api/v1/vms). Sizes are strings in the CLI's syntax;
 * `network: false` is `--no-network`. The fields after `dryRun` are the CLI's alone.
 */
export const VmCreateRequest = z
  .object({
    id: z.string(),
    cpus: z.number().int().min(1).max(4096).optional(),
    memory: size.optional(),
    disk: size.optional(),
    bridge: z.string().optional(),
    network: z.literal(false).optional(),
    image: z.string().optional(),
    flavor: z.string().optional(),
    sshKeys: z.array(z.string()).default([]),
    start: z.boolean().default(false),
    dryRun: z.boolean().default(false),
    // the CLI's own: a file of the admin's, waiting on the console, the privileged overrides
    userData: z.string().optional(),
    cloudInit: z.boolean().default(true),
    addExisting: z.boolean().default(false),
    force: z.boolean().default(false),
    expires: z.string().optional(),
    ignoreQuota: z.boolean().default(false),
    waitFor: z.string().optional(),
    timeoutS: z.number().positive().max(86_400).default(300),
  })
  .strict()
  .refine((r) => !(r.bridge !== undefined && r.network === false), { message: '--bridge and --no-network cannot be used together' });
export type VmCreateRequest = z.infer<typeof VmCreateRequest>;

/** `vm start|stop|reboot` (POST /api/v1/vms/{id}/{verb}, `{"force": true}` optional). */
export const PowerRequest = z.object({ id: z.string(), verb: z.enum(['start', 'stop', 'reboot']), force: z.boolean().default(false) }).strict();
export type PowerRequest = z.infer<typeof PowerRequest>;
export const PowerResult = z.object({ vm: z.string(), result: z.enum(['started', 'already running', 'stopped', 'already stopped', 'forced off', 'rebooted', 'reset']) }).strict();
export type PowerResult = z.infer<typeof PowerResult>;

/** `vm list` and `vm show` results: the `--json` shapes (`vm show` adds `pending`). */
export const VmInfoResult = z
  .object({
    name: z.string(),
    user: z.string().nullable(),
    managed: z.boolean(),
    state: z.string(),
    vcpus: z.number(),
    cpuset: z.array(z.number()),
    emulatorCpuset: z.array(z.number()),
    memoryMiB: z.number(),
    disk: z.object({ volume: z.string(), path: z.string(), sizeBytes: z.number().nullable() }).strict().nullable(),
    network: z.object({ bridge: z.string(), mac: z.string(), ipv4: z.string().nullable(), ipv6: z.string().nullable() }).strict().nullable(),
    fqdn: z.string().nullable(),
    createdAt: z.string().nullable(),
    expires: z.string().nullable(),
    adoptedAt: z.string().nullable(),
    image: z.string().nullable(),
    flavor: z.string().nullable(),
    seed: z.string().nullable(),
  })
  .strict();
export const VmListResult = z.array(VmInfoResult);
const Pending = z.object({ vcpus: z.number().optional(), cpuset: z.array(z.number()).optional(), emulatorCpuset: z.array(z.number()).optional(), memoryMiB: z.number().optional() }).strict();
export const VmShowResult = VmInfoResult.extend({ pending: Pending.nullable() }).strict();

/** `user add` and `user remove`. */
export const UserAddRequest = z.object({ user: z.string(), sshKeys: z.array(z.string()).default([]), addExisting: z.boolean().default(false), dryRun: z.boolean().default(false) }).strict();
export type UserAddRequest = z.infer<typeof UserAddRequest>;
export const UserRemoveRequest = z.object({ user: z.string(), purge: z.boolean().default(false), dryRun: z.boolean().default(false) }).strict();
export type UserRemoveRequest = z.infer<typeof UserRemoveRequest>;

/** `dns sync`. */
export const DnsSyncRequest = z.object({ dryRun: z.boolean().default(false) }).strict();
export type DnsSyncRequest = z.infer<typeof DnsSyncRequest>;
export const DnsSyncResult = z.object({ dryRun: z.boolean(), changes: z.array(z.string()) }).strict();

/** A request that does not fit its schema is bad input (exit 2), named by the first field at fault. */
export function parseRequest<S extends z.ZodTypeAny>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data as z.output<S>;
  const issue = r.error.issues[0]!;
  throw badInput(issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message);
}

// the schemas say exactly what the service's types say (a compile error otherwise)
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameShapes: [
  Same<z.infer<typeof VmInfoResult>, VmInfo>,
  Same<Required<z.infer<typeof Pending>>, Required<PendingChange>>,
  Same<z.infer<typeof DnsSyncResult>, DnsSyncResultType>,
] = [true, true, true];
void sameShapes;
