// What every command module shares: global options, config loading, the service context.
import { CommanderError, type Command } from 'commander';
import { createContext, type Context } from '../service/vm.ts';
import { loadConfig, processActor as actorOfProcess } from '../service/process.ts';
import type { Actor } from '../core/actor.ts';

export { configPath, DEFAULT_CONFIG_PATH, loadConfig } from '../service/process.ts';

export interface GlobalOpts {
  config?: string;
  json?: boolean;
  yes?: boolean;
}

export const g = (cmd: Command): GlobalOpts => cmd.optsWithGlobals() as GlobalOpts;

let processActor: Actor | undefined;

/** The CLI acts for the process's user: found once, before the first action runs. */
export async function resolveProcessActor(): Promise<Actor> {
  processActor ??= await actorOfProcess();
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
