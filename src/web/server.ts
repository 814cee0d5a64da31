// `raptor serve`: the app on a TCP address or a unix socket. The node:http server is returned so
// the console's WebSocket can take its `upgrade` requests (authenticate() and checkHostAndOrigin()
// in app.ts judge those as they judge API calls).
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import { chmodSync, lstatSync, rmSync } from 'node:fs';
import type { Config } from '../core/config.ts';
import { notAllowed } from '../core/errors.ts';
import { parseListen } from '../core/web-config.ts';
import { createApp, type AppDeps } from './app.ts';
import { Operations } from './operations.ts';
import { hostConsoles, hostWebService } from './service-bridge.ts';
import { attachConsoles, type ConsoleHub, type ConsoleLimits } from './console.ts';
import { bundledPage } from './page-assets.ts';
import { openSignIn } from '../service/web-auth.ts';

export interface RunningServer {
  server: Server;
  deps: AppDeps;
  /** where it listens, as `raptor serve` prints it */
  address: string;
  /** the console sessions, when the deps have a console opener */
  consoles: ConsoleHub | undefined;
  close(): Promise<void>;
}

/** The real dependencies: root-only store, the spool, the host's account database, the service. */
export function hostDeps(config: Config, configPath?: string): AppDeps {
  if (process.geteuid?.() !== 0) throw notAllowed('raptor serve runs as root (the service manager starts it): it creates VMs and acts for each signed-in user');
  return {
    config,
    service: hostWebService(config, configPath ? { configPath } : {}),
    ...openSignIn(config),
    operations: new Operations(),
    consoles: hostConsoles(config),
    page: bundledPage(),
  };
}

/** Listen on the config's web.socket if set, else on web.listen. */
export async function startServer(deps: AppDeps, consoleLimits: Partial<ConsoleLimits> = {}): Promise<RunningServer> {
  const app = createApp(deps);
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  const consoles = deps.consoles ? attachConsoles(server, { ...deps, consoles: deps.consoles, limits: consoleLimits }) : undefined;
  const socket = deps.config.web.socket;
  let address: string;
  if (socket !== undefined) {
    // a stale socket from an earlier run is ours to replace; anything else at that path is not
    try {
      if (lstatSync(socket).isSocket()) rmSync(socket);
    } catch {
      // not there
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => resolve());
    });
    chmodSync(socket, 0o666); // the reverse proxy connects; the API authenticates every call
    address = `unix:${socket}`;
  } else {
    const listen = deps.config.web.listen;
    const hp = parseListen(listen);
    if (!hp) throw notAllowed(`--listen ${listen}: HOST:PORT expected`);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(hp.port, hp.host, () => resolve());
    });
    address = `http://${listen}`;
  }
  return {
    server,
    deps,
    address,
    consoles,
    close: () =>
      new Promise<void>((resolve) => {
        consoles?.close();
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
