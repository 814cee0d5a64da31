// The VM's console as a byte stream for a front end (the web console), opened as the actor: libvirt
// (polkit's open-device rule) decides, and a VM the actor may not see is not found, as for virsh.
import type { Duplex } from 'node:stream';
import type { VmId } from '../core/naming.ts';
import { actorHv } from './as-actor.ts';
import { requireDomain, type Context } from './vm.ts';

export async function openConsoleStream(ctx: Context, vm: VmId): Promise<Duplex> {
  const name = await requireDomain(ctx, vm);
  return actorHv(ctx).openConsole(name);
}

/** Whether the actor may see the VM (not found otherwise): checked for each viewer who joins a console another opened. */
export async function requireVisible(ctx: Context, vm: VmId): Promise<void> {
  await requireDomain(ctx, vm);
}
