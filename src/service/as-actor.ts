// Reads and interactions run as the actor, so libvirt (polkit) decides what they may see and do.
// When the process is the actor (the CLI), nothing changes; a server running as root for alice asks as alice.
import type { Hypervisor } from '../libvirt/hypervisor.ts';
import { Virsh } from '../libvirt/virsh.ts';
import { withRaptorErrors } from './host-errors.ts';
import { openAs, runAs } from '../host/run-as.ts';
import { openCommandStream, type Runner } from '../host/runner.ts';
import type { Context } from './vm.ts';

/** Whether the process is someone other than the actor (then commands for the actor go through setpriv). */
export const actsForAnother = (ctx: Context): boolean => ctx.actor.uid !== process.getuid?.();

/** The runner for the actor's own commands (virsh console, …). */
export const actorRun = (ctx: Context): Runner => (actsForAnother(ctx) ? runAs(ctx.run, ctx.actor) : ctx.run);

/** The actor's libvirt connection: list, show, start, stop, reboot, console. */
export const actorHv = (ctx: Context): Hypervisor => (actsForAnother(ctx) ? withRaptorErrors(new Virsh(actorRun(ctx), ctx.config.libvirt_uri, openAs(openCommandStream, ctx.actor))) : ctx.hv);
