// `raptor user …` and `raptor host init|check`, and the one table of admin-only commands.
import type { Command } from 'commander';
import { requireAdmin } from '../service/access.ts';
import { ctxFor } from './common.ts';
import { registerHostCommands } from './commands-host.ts';
import { registerUserCommands } from './commands-user.ts';

/**
 * Commands that change the host, so only an admin (root or an admin group) may run them; the
 * rest (vm list/show/start/stop/reboot/console) run as the caller, and polkit decides.
 */
export const ADMIN_ONLY_COMMANDS = new Set(['vm create', 'vm destroy', 'vm adopt', 'vm resize', 'vm expire', 'vm reap', 'user add', 'user remove', 'host init']);

const commandPath = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};

export function registerAccessCommands(program: Command): void {
  program.hook('preAction', async (_program, action) => {
    const path = commandPath(action);
    if (ADMIN_ONLY_COMMANDS.has(path)) await requireAdmin(ctxFor(action), `raptor ${path}`);
  });

  registerUserCommands(program);
  registerHostCommands(program);
}
