// The CLI: parses the contract of docs/cli.md, calls the service functions, maps errors to exit codes.
import { Command, CommanderError } from 'commander';
import { EXIT_CODES, RaptorError } from '../core/errors.ts';
import { escapeControls } from '../core/quote.ts';
import { registerImageCommands } from './commands-images.ts';
import { printJson } from './output.ts';
import { registerHostCommands } from './commands-host.ts';
import { registerUserCommands } from './commands-user.ts';
import { ctxFor, resolveProcessActor } from './common.ts';
import { isRaptorAction } from '../access/permissions.ts';
import { authorize } from '../service/authorize.ts';
import { registerConfigCommands } from './commands-config.ts';
import { registerDnsCommands } from './commands-dns.ts';
import { registerLabCommands } from './commands-lab.ts';
import { registerAdoptCommands } from './commands-adopt.ts';
import { registerRenderCommands } from './commands-render.ts';
import { registerVmCommands } from './commands-vm.ts';
import { registerWebCommands } from './commands-web.ts';

const commandPath = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};

export function buildProgram(version: string): Command {
  const program = new Command('raptor')
    .description('provision VMs on a shared libvirt/QEMU host, the house procedure in one command')
    .version(version, '-V, --version')
    .option('--config <file>', 'config file (else $RAPTOR_CONFIG, else /etc/raptor/raptor.toml, else built-in defaults)')
    .option('--json', 'print one JSON document on stdout')
    .option('--yes', 'do not ask for confirmation')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  // the actor is found once; raptor's own actions are refused before any input is read (the service judges them again)
  program.hook('preAction', async (_program, action) => {
    await resolveProcessActor();
    const path = commandPath(action);
    if (isRaptorAction(path)) authorize(ctxFor(action), path);
  });

  registerConfigCommands(program);
  registerVmCommands(program);
  registerDnsCommands(program);
  registerAdoptCommands(program);
  registerRenderCommands(program);
  registerUserCommands(program);
  registerHostCommands(program);
  registerImageCommands(program);
  registerLabCommands(program);
  registerWebCommands(program);
  return program;
}

function reportError(err: unknown, json: boolean): number {
  let kind: keyof typeof EXIT_CODES = 'unexpected';
  let message: string;
  if (err instanceof RaptorError) {
    kind = err.kind;
    message = err.message;
  } else if (err instanceof CommanderError) {
    kind = 'bad-input';
    // commander repeats what was typed: its messages are one line, whatever the argument held
    message = escapeControls(err.message.replace(/^error:\s*/, '').replace(/\n(?=\(Did you mean)/g, ' '), { keepNewlines: false });
  } else {
    message = err instanceof Error ? err.message : String(err);
  }
  const code = EXIT_CODES[kind];
  // JSON escapes by itself; a terminal gets no control character that was not meant (one place)
  if (json) printJson({ error: { code: kind, exitCode: code, message } });
  else process.stderr.write(`raptor: ${escapeControls(message)}\n`);
  return code;
}

export async function main(argv: string[], version: string): Promise<number> {
  const json = argv.includes('--json');
  const program = buildProgram(version);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')) {
      return 0;
    }
    if (err instanceof CommanderError && err.code === 'commander.executeSubCommandAsync') return err.exitCode;
    return reportError(err, json);
  }
}
