// `raptor serve` and `raptor web login|token|logout` (docs/web.md).
import type { Command } from 'commander';
import { badInput } from '../core/errors.ts';
import { parseListen } from '../core/web-config.ts';
import { requestWebCredential, type SignInWant } from '../service/web-auth.ts';
import { g, loadConfig } from './common.ts';
import { printJson } from './output.ts';

const prove = (cmd: Command, want: SignInWant): Promise<Record<string, unknown>> => requestWebCredential(loadConfig(g(cmd).config), want);

export function registerWebCommands(program: Command): void {
  program
    .command('serve')
    .description('serve the HTTP API and the web page (run as root by the service manager)')
    .option('--listen <host:port>', 'TCP address (default: web.listen, 127.0.0.1:8470)')
    .option('--socket <path>', 'listen on this unix socket instead (for a reverse proxy)')
    .action(async (o: { listen?: string; socket?: string }, cmd: Command) => {
      if (o.listen !== undefined && !parseListen(o.listen)) throw badInput(`--listen ${o.listen}: HOST:PORT expected, e.g. 127.0.0.1:8470`);
      if (o.socket !== undefined && !o.socket.startsWith('/')) throw badInput(`--socket ${o.socket}: an absolute path expected`);
      if (o.listen !== undefined && o.socket !== undefined) throw badInput('--listen and --socket cannot be used together');
      const loaded = loadConfig(g(cmd).config);
      const web = { ...loaded.web, ...(o.listen !== undefined ? { listen: o.listen, socket: undefined } : {}), ...(o.socket !== undefined ? { socket: o.socket } : {}) };
      const config = { ...loaded, web };
      const { hostDeps, startServer } = await import('../web/server.ts');
      const configPath = g(cmd).config ?? process.env.RAPTOR_CONFIG;
      const running = await startServer(hostDeps(config, configPath));
      process.stderr.write(`raptor serve: listening on ${running.address}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void running.close().then(resolve);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      await running.deps.operations?.settled();
    });

  const web = program.command('web').description('sign in to raptor serve without a password: the host knows who you are');
  web
    .command('login')
    .description('print a one-time URL that signs this account in to the web page')
    .action(async (_o, cmd: Command) => {
      const r = await prove(cmd, 'login');
      if (g(cmd).json) printJson({ url: r.url, expires: r.expires });
      else process.stdout.write(`${String(r.url)}\n(open it within a few minutes; it works once, until ${String(r.expires)})\n`);
    });
  web
    .command('token')
    .description('print a bearer token for scripts (Authorization: Bearer TOKEN)')
    .action(async (_o, cmd: Command) => {
      const r = await prove(cmd, 'token');
      if (g(cmd).json) printJson({ token: r.token, expires: r.expires });
      else {
        process.stdout.write(`${String(r.token)}\n`);
        process.stderr.write(`expires ${String(r.expires)}\n`);
      }
    });
  web
    .command('logout')
    .description("revoke this account's sessions and tokens")
    .option('--all', 'every session and token of this account')
    .action(async (o: { all?: boolean }, cmd: Command) => {
      if (!o.all) throw badInput('raptor web logout needs --all (it revokes every session and token of your account)');
      const r = await prove(cmd, 'logout-all');
      if (g(cmd).json) printJson({ user: r.user, revoked: r.revoked });
      else process.stdout.write(`revoked ${String(r.revoked)} sessions and tokens of ${String(r.user)}\n`);
    });
}
