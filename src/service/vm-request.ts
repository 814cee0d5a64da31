// From a vm create request (the CLI's flags or the API's JSON, same fields) to what createVm takes:
// sizes from flags or a flavour, the image, the owner's keys for the seed and the host account.
// Front ends only translate their input into a VmCreateRequest and call this.
import type { CloudConfig } from '../core/cloud-init.ts';
import { badInput } from '../core/errors.ts';
import { parseExpiry } from '../core/expiry.ts';
import type { VmId } from '../core/naming.ts';
import type { SshPublicKey } from '../access/ssh-keys.ts';
import { cloudInitFor, resolveImage, resolveSizes } from './images.ts';
import type { VmCreateRequest } from './schemas.ts';
import type { Context, NewVmRequest } from './vm.ts';

/** What a request names but a front end reads itself: key files and the user-data file are the CLI's. */
export interface VmCreateInputs {
  /** the owner's keys, parsed */
  sshKeys: SshPublicKey[];
  /** an admin's #cloud-config to merge (CLI only) */
  userData?: CloudConfig;
  /** whether `image` may be a file path (an admin at the CLI) or only a catalogue name (the web) */
  imagePaths: boolean;
}

type Fields = Pick<VmCreateRequest, 'cpus' | 'memory' | 'disk' | 'flavor' | 'bridge' | 'network' | 'image' | 'start' | 'expires'> &
  Partial<Pick<VmCreateRequest, 'cloudInit' | 'addExisting' | 'force' | 'ignoreQuota'>>;

export async function newVmRequest(ctx: Context, vm: VmId, r: Fields, inputs: VmCreateInputs, now = new Date()): Promise<NewVmRequest> {
  const sizes = resolveSizes(ctx.config, {
    ...(r.flavor !== undefined ? { flavor: r.flavor } : {}),
    ...(r.cpus !== undefined ? { cpus: r.cpus } : {}),
    ...(r.memory !== undefined ? { memory: r.memory } : {}),
    ...(r.disk !== undefined ? { disk: r.disk } : {}),
  });
  const req: NewVmRequest = {
    vm,
    cpus: sizes.cpus,
    memoryBytes: sizes.memoryBytes,
    diskBytes: sizes.diskBytes,
    ...(r.bridge !== undefined ? { bridge: r.bridge } : {}),
    noNetwork: r.network === false,
    start: Boolean(r.start),
    force: Boolean(r.force),
    ...(r.expires !== undefined ? { expires: parseExpiry(r.expires, now).toISOString() } : {}),
    ...(r.ignoreQuota ? { ignoreQuota: true } : {}),
  };
  if (req.noNetwork && req.bridge !== undefined) throw badInput('--bridge and --no-network cannot be used together');
  // the owner's host account: steps of the create plan itself (its refusals come before any change)
  if (inputs.sshKeys.length) req.account = { keys: inputs.sshKeys, addExisting: Boolean(r.addExisting) };
  const cloudInit = r.cloudInit !== false;
  if (!cloudInit && inputs.userData !== undefined) throw badInput('--user-data and --no-cloud-init cannot be used together');
  if (cloudInit) req.cloudInit = cloudInitFor(vm, inputs.sshKeys, inputs.userData);
  if (r.image !== undefined && !inputs.imagePaths && !ctx.config.images.some((i) => i.name === r.image)) {
    // a catalogue name only: a path would let a web session have the server read any file
    throw badInput(`image ${r.image} is not in the catalogue (${ctx.config.images.map((i) => i.name).join(', ') || 'none configured'})`);
  }
  const image = r.image !== undefined ? await resolveImage(ctx, r.image) : undefined;
  if (image) req.image = image.info;
  req.madeFrom = { ...(image ? { image: image.madeFrom } : {}), ...(sizes.flavor !== undefined ? { flavor: sizes.flavor } : {}) };
  return req;
}
