// The one judge of raptor's own actions (vm create, user add, host init, …), by the permission table.
// What libvirt decides (list, show, start, console, …) it decides itself, for the actor (as-actor.ts).
import { notAllowed } from '../core/errors.ts';
import { allows, roleOf, type RaptorAction } from '../access/permissions.ts';
import type { Context } from './vm.ts';

export const adminWho = (ctx: Context): string => `root or a member of ${ctx.config.access.admin_groups.join('/')}`;

/**
 * Refuse (exit 5) unless the table allows the actor this action on `vm` (a domain name). An admin
 * who is not root is refused too: these actions change LVM volumes, accounts and system files,
 * which only a process running as root can do (the CLI under sudo, or a server run as root).
 */
export function authorize(ctx: Context, action: RaptorAction, vm?: string): void {
  const what = `raptor ${action}`;
  if (!allows(roleOf(ctx.actor, ctx.config.access, vm), action)) {
    throw notAllowed(`${what} needs an admin (${adminWho(ctx)}); vm-users may only list, show, start, stop, reboot and open the console of their own VMs`);
  }
  if (!ctx.privileged) throw notAllowed(`${what} changes volumes, accounts and system files: run it as root (sudo ${what})`);
}
