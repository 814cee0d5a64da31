// What every command module shares: global options, config loading, the service context.
import { CommanderError, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { defaultConfig, parseConfigText, type Config } from '../core/config.ts';
import { MAX_CONFIG_FILE_BYTES, readBoundedText } from '../host/files.ts';
import { escapeControls } from '../core/quote.ts';
import { createContext, type Context } from '../service/vm.ts';
import type { Actor } from '../core/actor.ts';
import { actorFromProcess } from '../host/identity.ts';
import { runCommand } from '../host/runner.ts';

export interface GlobalOpts {
  config?: string;
  json?: boolean;
  yes?: boolean;
}

export const DEFAULT_CONFIG_PATH = '/etc/raptor/raptor.toml';

/** The one config lookup: --config, else $RAPTOR_CONFIG, else /etc/raptor/raptor.toml if it exists, else none (built-in defaults). */
export function configPath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env, exists: (path: string) => boolean = existsSync): string | undefined {
  return explicit ?? env.RAPTOR_CONFIG ?? (exists(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
}

export function loadConfig(explicit?: string): Config {
  const path = configPath(explicit);
  if (path === undefined) return defaultConfig();
  const text = readBoundedText(path, 'config', MAX_CONFIG_FILE_BYTES);
  // the path starts every config message: no control character of it reaches the terminal
  return parseConfigText(text, escapeControls(path, { keepNewlines: false }));
}

export const g = (cmd: Command): GlobalOpts => cmd.optsWithGlobals() as GlobalOpts;

let processActor: Actor | undefined;

/** The CLI acts for the process's user: found once, before the first action runs. */
export async function resolveProcessActor(): Promise<Actor> {
  processActor ??= await actorFromProcess(runCommand);
  return processActor;
}

export const ctxFor = (cmd: Command): Context => {
  if (!processActor) throw new Error('ctxFor before resolveProcessActor: the program\'s preAction hook finds the actor');
  return createContext(loadConfig(g(cmd).config), process.argv.slice(2).join(' '), processActor);
};

/** Exit with a code but no error message (the output already said what is wrong). */
export class QuietExit extends CommanderError {
  constructor(code: number) {
    // main() returns this code's exitCode without printing anything
    super(code, 'commander.executeSubCommandAsync', '');
  }
}
