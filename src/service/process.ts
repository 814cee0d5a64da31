// What a front end running as its own process starts from: the config file, and the actor the
// process is (the CLI acts for whoever runs it; a server reads the config here too).
import { existsSync } from 'node:fs';
import { defaultConfig, parseConfigText, type Config } from '../core/config.ts';
import type { Actor } from '../core/actor.ts';
import { escapeControls } from '../core/quote.ts';
import { MAX_CONFIG_FILE_BYTES, readBoundedText } from '../host/files.ts';
import { actorFromProcess } from '../host/identity.ts';
import { runCommand } from '../host/runner.ts';

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

/** The actor this process is (under sudo: the admin behind it). */
export const processActor = (): Promise<Actor> => actorFromProcess(runCommand);
