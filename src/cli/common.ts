// What every command module shares: global options, config loading, the service context.
import { CommanderError, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { defaultConfig, parseConfigText, type Config } from '../core/config.ts';
import { MAX_CONFIG_FILE_BYTES, readBoundedText } from '../host/files.ts';
import { escapeControls } from '../core/quote.ts';
import { createContext, type Context } from '../service/vm.ts';

export interface GlobalOpts {
  config?: string;
  json?: boolean;
  yes?: boolean;
}

export function loadConfig(explicit?: string): Config {
  const path = explicit ?? process.env.RAPTOR_CONFIG ?? (existsSync('/etc/raptor/raptor.toml') ? '/etc/raptor/raptor.toml' : undefined);
  if (path === undefined) return defaultConfig();
  const text = readBoundedText(path, 'config', MAX_CONFIG_FILE_BYTES);
  // the path starts every config message: no control character of it reaches the terminal
  return parseConfigText(text, escapeControls(path, { keepNewlines: false }));
}

export const g = (cmd: Command): GlobalOpts => cmd.optsWithGlobals() as GlobalOpts;

export const ctxFor = (cmd: Command): Context => createContext(loadConfig(g(cmd).config), process.argv.slice(2).join(' '));

/** Exit with a code but no error message (the output already said what is wrong). */
export class QuietExit extends CommanderError {
  constructor(code: number) {
    // main() returns this code's exitCode without printing anything
    super(code, 'commander.executeSubCommandAsync', '');
  }
}
