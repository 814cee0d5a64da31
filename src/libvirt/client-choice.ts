// Which libvirt client the config chose (libvirt_client): virsh, or libvirt's own protocol.
import type { Config } from '../core/config.ts';
import { openCommandStream, type Runner, type StreamOpener } from '../host/runner.ts';
import type { Hypervisor } from './hypervisor.ts';
import { RpcClient } from './rpc/client.ts';
import { RpcHypervisor } from './rpc/rpc-hypervisor.ts';
import { WorkerRpcClient } from './rpc/worker.ts';
import { Virsh } from './virsh.ts';

/**
 * The hypervisor for `run`'s identity. `asAnother`: `run` and `open` start commands as another
 * user, so an rpc connection is opened by a worker started through `open` (libvirt judges the
 * process that connects); virsh, which the rpc client delegates to, runs through `run` as well.
 */
export function libvirtClient(config: Pick<Config, 'libvirt_uri' | 'libvirt_client'>, run: Runner, open: StreamOpener = openCommandStream, opts: { asAnother?: boolean } = {}): Hypervisor {
  const virsh = new Virsh(run, config.libvirt_uri, open);
  if (config.libvirt_client !== 'rpc') return virsh;
  const transport = opts.asAnother ? new WorkerRpcClient(config.libvirt_uri, open) : new RpcClient(config.libvirt_uri);
  return new RpcHypervisor(transport, virsh);
}
