// What every command module shares: global options, config loading, the service context.
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { defaultConfig, parseConfigText, type Config } from '../core/config.ts';
import { badInput } from '../core/errors.ts';
import { createContext, type Context } from '../service/vm.ts';

export interface GlobalOpts {
  config?: string;
  json?: boolean;
  yes?: boolean;
}

export function loadConfig(explicit?: string): Config {
  const path = explicit ?? process.env.RAPTOR_CONFIG ?? (existsSync('/etc/raptor/raptor.toml') ? '/etc/raptor/raptor.toml' : undefined);
  if (path === undefined) return defaultConfig();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw badInput(`cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseConfigText(text, path);
}

export const g = (cmd: Command): GlobalOpts => cmd.optsWithGlobals() as GlobalOpts;

export const ctxFor = (cmd: Command): Context => createContext(loadConfig(g(cmd).config), process.argv.slice(2).join(' '));
