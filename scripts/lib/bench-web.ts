// The web server under load (`npm run bench web`): `raptor serve` from the bundle on loopback,
// 50 clients listing VMs without pause and 10 console viewers typing for 30 s, then one client's
// GET /api/v1/vms against `raptor vm list --json` over the same domains.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { WebSocket } from 'ws';

export interface WebBenchOptions {
  node: string;
  raptor: string;
  root: string;
  configPath: string;
  /** define a do-nothing domain named `name` (the list's 50) */
  defineDomain: (name: string) => void;
  undefine: (name: string) => void;
  seconds?: number;
  listClients?: number;
  consoles?: number;
}

export interface WebBenchResult {
  listRequests: number;
  listErrors: number;
  listP50: number;
  listP99: number;
  consoleRoundTrips: number;
  consoleErrors: number;
  consoleP50: number;
  consoleP99: number;
  apiMs: number;
  cliMs: number;
  domains: number;
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const median = (xs: number[]) => pct(xs, 50);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function must(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export async function benchWeb(o: WebBenchOptions): Promise<WebBenchResult> {
  const seconds = o.seconds ?? 30;
  const listClients = o.listClients ?? 50;
  const consoleCount = o.consoles ?? 10;
  const dir = `/run/raptor-sandbox/bench-web-${process.pid}`;
  const cfg = `${dir}.toml`;
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  writeFileSync(cfg, `${readFileSync(o.configPath, 'utf8')}\n[web]\nlisten = "127.0.0.1:${port}"\nstate_dir = "${dir}/state"\nspool_dir = "${dir}/spool"\n`, { mode: 0o644 });
  const raptor = (...args: string[]) => [o.node, o.raptor, '--config', cfg, ...args];
  const names = Array.from({ length: 50 }, (_, i) => `benchw-d${String(i).padStart(2, '0')}`);
  // console viewers share sessions, at most 5 per VM: two small guests booted to a shell
  const consoleVms = Array.from({ length: Math.ceil(consoleCount / 5) }, (_, i) => `benchw-con${i}`);
  let server: ChildProcess | undefined;
  try {
    const image = must([`${o.root}scripts/guest-image`, '--out', '/var/cache/raptor/bench-console-guest.img']).trim().split('\n').pop()!;
    for (const vm of consoleVms) {
      must(raptor('vm', 'create', vm, '--cpus', '1', '--memory', '512M', '--disk', '64M', '--image', image, '--no-network', '--no-cloud-init', '--start', '--wait-for', 'raptor-guest: ready', '--timeout', '300'));
    }
    // defined by hand after raptor allocated the guests' CPUs (they pin a CPU raptor gave away: a list does not mind)
    for (const n of names) o.defineDomain(n);
    server = spawn(raptor('serve')[0]!, raptor('serve').slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`raptor serve did not start: ${log}`)), 15_000);
      server!.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('listening on')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const token = (JSON.parse(must(raptor('--json', 'web', 'token'))) as { token: string }).token;
    const headers = { authorization: `Bearer ${token}` };
    const list = async () => {
      const r = await fetch(`${origin}/api/v1/vms`, { headers });
      const body = await r.text();
      if (r.status !== 200) throw new Error(`GET /api/v1/vms: ${r.status} ${body.slice(0, 200)}`);
      return body;
    };

    // one client, sequential: the API against the CLI for the same domains, interleaved
    const apiTimes: number[] = [];
    const cliTimes: number[] = [];
    for (let i = 0; i < 9; i++) {
      let t0 = performance.now();
      await list();
      apiTimes.push(performance.now() - t0);
      t0 = performance.now();
      must(raptor('--json', 'vm', 'list'));
      cliTimes.push(performance.now() - t0);
    }
    const apiDoc = JSON.parse(await list()) as { name: string }[];
    const cliDoc = JSON.parse(must(raptor('--json', 'vm', 'list'))) as { name: string }[];
    if (JSON.stringify(apiDoc) !== JSON.stringify(cliDoc)) throw new Error('GET /api/v1/vms and raptor vm list --json differ');

    // the load: list clients without pause, console viewers typing once a second
    const end = Date.now() + seconds * 1000;
    const listLatency: number[] = [];
    let listErrors = 0;
    const lister = async () => {
      while (Date.now() < end) {
        const t0 = performance.now();
        try {
          await list();
          listLatency.push(performance.now() - t0);
        } catch (err) {
          listErrors++;
          if (listErrors <= 3) console.error(`  list error: ${(err as Error).message}`);
        }
      }
    };
    const consoleLatency: number[] = [];
    let consoleErrors = 0;
    const viewer = (i: number) =>
      new Promise<void>((resolve) => {
        const vm = consoleVms[i % consoleVms.length]!;
        const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/vms/${vm}/console`, { headers, origin });
        let text = '';
        let seq = 0;
        let waiting: { marker: string; t0: number } | undefined;
        let timer: NodeJS.Timeout | undefined;
        const fail = (why: string) => {
          consoleErrors++;
          if (consoleErrors <= 3) console.error(`  console ${i}: ${why}`);
        };
        ws.on('unexpected-response', (_q, res) => {
          fail(`upgrade refused: ${res.statusCode}`);
          resolve();
        });
        ws.on('error', (err) => fail(err.message));
        ws.on('open', () => {
          timer = setInterval(() => {
            if (waiting && performance.now() - waiting.t0 > 10_000) {
              fail(`no answer to ${waiting.marker} in 10 s`);
              waiting = undefined;
            }
            if (Date.now() >= end) {
              clearInterval(timer);
              ws.close(1000);
              return;
            }
            // the guest computes the answer: an echo of the keystrokes would not match
            if (waiting) return; // one question at a time
            seq++;
            waiting = { marker: `bw${i}x${seq}=${seq * 7}`, t0: performance.now() };
            ws.send(Buffer.from(`echo bw${i}x${seq}=$((${seq}*7))\r`));
          }, 1000);
        });
        ws.on('message', (d: Buffer) => {
          text = (text + d.toString('latin1')).slice(-4096);
          if (waiting && text.includes(waiting.marker)) {
            consoleLatency.push(performance.now() - waiting.t0);
            waiting = undefined;
          }
        });
        ws.on('close', (code) => {
          clearInterval(timer);
          if (code !== 1000 && code !== 1005) fail(`closed ${code}`);
          resolve();
        });
      });
    await Promise.all([...Array.from({ length: listClients }, () => lister()), ...Array.from({ length: consoleCount }, (_, i) => viewer(i))]);
    return {
      listRequests: listLatency.length + listErrors,
      listErrors,
      listP50: pct(listLatency, 50),
      listP99: pct(listLatency, 99),
      consoleRoundTrips: consoleLatency.length,
      consoleErrors,
      consoleP50: pct(consoleLatency, 50),
      consoleP99: pct(consoleLatency, 99),
      apiMs: median(apiTimes),
      cliMs: median(cliTimes),
      domains: apiDoc.length,
    };
  } finally {
    if (server && server.exitCode === null) {
      const s = server;
      await new Promise<void>((resolve) => {
        s.once('exit', () => resolve());
        s.kill('SIGTERM');
      });
    }
    for (const vm of consoleVms) spawnSync(o.node, [o.raptor, '--config', cfg, 'vm', 'destroy', vm, '--yes'], { stdio: 'ignore' });
    for (const n of names) o.undefine(n);
    rmSync(dir, { recursive: true, force: true });
    rmSync(cfg, { force: true });
  }
}
