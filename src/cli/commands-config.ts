// `raptor config show`: the effective config.
import type { Command } from 'commander';
import { printJson } from './output.ts';
import { g, loadConfig } from './common.ts';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('configuration');
  config
    .command('show')
    // the config holds no secrets: the TSIG key lives in its own file, named by dns.tsig_key_file
    .description('print the effective config (it holds no secrets: the TSIG key stays in its file)')
    .action((_o, cmd: Command) => {
      const cfg = loadConfig(g(cmd).config);
      if (g(cmd).json) printJson(cfg);
      else process.stdout.write(JSON.stringify(cfg, null, 2) + '\n');
    });
}
