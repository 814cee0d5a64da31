// Request bodies of the HTTP API, validated before anything is asked of the host. Pure.
import { z } from 'zod';

const SIZE = z.string().min(1).max(32);

/** POST /api/v1/vms: the fields of `raptor vm create`, sizes in the CLI's syntax ("512M"). */
export const createVmBody = z
  .object({
    id: z.string().min(1).max(128),
    cpus: z.number().int().min(1).max(4096).optional(),
    memory: SIZE.optional(),
    disk: SIZE.optional(),
    flavor: z.string().max(64).optional(),
    bridge: z.string().max(15).optional(),
    network: z.literal(false).optional(),
    image: z.string().max(64).optional(),
    sshKeys: z.array(z.string().min(1).max(16_384)).max(32).optional(),
    start: z.boolean().optional(),
    expires: z.string().max(64).optional(),
    dryRun: z.boolean().optional(),
  })
  .strict()
  .refine((b) => !(b.bridge !== undefined && b.network === false), { message: 'bridge and network:false cannot be used together' });
export type CreateVmBody = z.infer<typeof createVmBody>;

/** POST /api/v1/vms/{id}/{start|stop|reboot}. */
export const powerBody = z.object({ force: z.boolean().optional() }).strict();

/** POST /api/v1/auth/proof: what `raptor web …` sends after writing its proof file. */
export const proofBody = z
  .object({
    file: z.string().max(64),
    nonce: z.string().max(64),
    want: z.enum(['login', 'token', 'logout-all']),
  })
  .strict();
export type ProofBody = z.infer<typeof proofBody>;

/** The first problem of a body, in one line. */
export function bodyProblem(err: z.ZodError): string {
  const i = err.issues[0]!;
  const path = i.path.map(String).join('.');
  if (i.code === 'unrecognized_keys') return `unknown field ${JSON.stringify(i.keys[0])}`;
  return `${path ? `${path}: ` : ''}${i.message}`;
}
