// `raptor config polkit-rules`: the rules file this config renders, on stdout. The NixOS module
// builds its rules file with this command, so the module and `raptor host init` never disagree.
import type { Command } from 'commander';
import { renderPolkitRules } from '../access/polkit-rules.ts';
import { g, loadConfig } from './common.ts';

export function registerRenderCommands(program: Command): void {
  const config = program.commands.find((c) => c.name() === 'config')!;
  config
    .command('polkit-rules')
    .description('print the polkit rules this config renders (what raptor host init installs)')
    .action((_o, cmd: Command) => {
      process.stdout.write(renderPolkitRules(loadConfig(g(cmd).config).access));
    });
}
