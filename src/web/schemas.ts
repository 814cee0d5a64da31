// Request bodies of the HTTP API, validated before anything is asked of the host: the service's
// request schemas (service/schemas.ts), narrowed to what a web client may send.
import { z } from 'zod';
import { PowerRequest, VmCreateRequest } from '../service/schemas.ts';

/**
 * POST /api/v1/vms: the service's own create request, without the CLI's fields (a file of the
 * admin's, console waits, overrides of quotas and DNS data), each string bounded.
 */
export const createVmBody = VmCreateRequest.innerType()
  .pick({ id: true, cpus: true, memory: true, disk: true, bridge: true, network: true, image: true, flavor: true, sshKeys: true, start: true, dryRun: true, expires: true })
  .extend({
    id: z.string().min(1).max(128),
    bridge: z.string().max(15).optional(),
    image: z.string().max(64).optional(),
    flavor: z.string().max(64).optional(),
    sshKeys: z.array(z.string().min(1).max(16_384)).max(32).default([]),
    expires: z.string().max(64).optional(),
  })
  .strict()
  .refine((b) => !(b.bridge !== undefined && b.network === false), { message: 'bridge and network:false cannot be used together' });
export type CreateVmBody = z.infer<typeof createVmBody>;

/** POST /api/v1/vms/{id}/{start|stop|reboot}: the service's power request without what the path gives. */
export const powerBody = PowerRequest.omit({ id: true, verb: true });

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
