// Throwaway authoritative DNS servers for the interop tests: BIND 9 and Knot DNS on loopback ports,
// each in its own temp dir, with the raptor zones and an update ACL on one TSIG key. Stopped by pid.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DnsClient } from '../../../src/dns/client.ts';

export const ZONE = 'raptor.test';
export const REVERSE4 = '100.51.198.in-addr.arpa';
export const REVERSE6 = '8.b.d.0.1.0.0.2.ip6.arpa';
export const KEY_NAME = 'raptor-key';
// test-only secrets; a second key the servers do not know, for the wrong-key cases
export const KEY_SECRET = 'd2ZXHZOLbC4Y5bOZ7ejPbU1qUUVJXn2LQYTS7z2Zjo0=';
export const OTHER_SECRET = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

export type ServerKind = 'bind' | 'knot';

export interface RunningServer {
  kind: ServerKind;
  port: number;
  dir: string;
  /** the BIND key file of the key the server accepts */
  keyFile: string;
  /** a key file with the same key name but another secret */
  wrongKeyFile: string;
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

export const hasBind = (): boolean => existsSync('/usr/sbin/named');
export const hasKnot = (): boolean => existsSync('/usr/sbin/knotd');

function zoneText(origin: string, extra: string): string {
  return `$ORIGIN ${origin}.
$TTL 300
@ IN SOA ns.${ZONE}. hostmaster.${ZONE}. 1 3600 600 86400 300
@ IN NS ns.${ZONE}.
${extra}`;
}

function writeZones(dir: string): void {
  writeFileSync(join(dir, `${ZONE}.zone`), zoneText(ZONE, 'ns IN A 127.0.0.1\nother IN A 198.51.100.200\n'));
  writeFileSync(join(dir, `${REVERSE4}.zone`), zoneText(REVERSE4, ''));
  writeFileSync(join(dir, `${REVERSE6}.zone`), zoneText(REVERSE6, ''));
}

function keyFileText(secret: string): string {
  return `# test key\nkey "${KEY_NAME}" {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`;
}

function bindConfig(dir: string, port: number): string {
  const zone = (name: string) => `zone "${name}" {\n  type primary;\n  file "${join(dir, `${name}.zone`)}";\n  update-policy { grant ${KEY_NAME} zonesub ANY; };\n};\n`;
  return `include "${join(dir, 'key.conf')}";
options {
  directory "${dir}";
  pid-file "${join(dir, 'named.pid')}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  allow-query { any; };
  dnssec-validation no;
  notify no;
};
controls { };
${[ZONE, REVERSE4, REVERSE6].map(zone).join('')}`;
}

function knotConfig(dir: string, port: number): string {
  return `server:
    rundir: "${dir}"
    pidfile: "${join(dir, 'knot.pid')}"
    listen: 127.0.0.1@${port}
log:
  - target: stderr
    any: info
database:
    storage: "${dir}"
key:
  - id: ${KEY_NAME}
    algorithm: hmac-sha256
    secret: ${KEY_SECRET}
acl:
  - id: raptor-update
    key: ${KEY_NAME}
    action: update
template:
  - id: default
    storage: "${dir}"
    file: "%s.zone"
    acl: raptor-update
    semantic-checks: on
zone:
  - domain: ${ZONE}
  - domain: ${REVERSE4}
  - domain: ${REVERSE6}
`;
}

/** A port nobody listens on right now (bind, read, close). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitUntilServing(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const client = new DnsClient({ server: '127.0.0.1', port, timeoutMs: 1000 });
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`DNS server exited with ${child.exitCode}:\n${log()}`);
    try {
      const soas = await Promise.all([ZONE, REVERSE4, REVERSE6].map((z) => client.query(z, 'SOA')));
      if (soas.every((s) => s.length === 1)) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`DNS server on port ${port} did not come up:\n${log()}`);
    await sleep(100);
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
async function portInUse(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export async function startServer(kind: ServerKind, port: number): Promise<RunningServer> {
  // knotd binds with SO_REUSEPORT: a second server on a busy port would silently share it
  if (await portInUse(port)) throw new Error(`port ${port} is already in use; stop whatever listens there first`);
  const dir = mkdtempSync(join(tmpdir(), `raptor-${kind}-`));
  writeZones(dir);
  const keyFile = join(dir, 'raptor.key');
  const wrongKeyFile = join(dir, 'wrong.key');
  writeFileSync(keyFile, keyFileText(KEY_SECRET), { mode: 0o600 });
  writeFileSync(wrongKeyFile, keyFileText(OTHER_SECRET), { mode: 0o600 });
  let argv: string[];
  if (kind === 'bind') {
    writeFileSync(join(dir, 'key.conf'), keyFileText(KEY_SECRET));
    writeFileSync(join(dir, 'named.conf'), bindConfig(dir, port));
    execFileSync('/usr/bin/named-checkconf', [join(dir, 'named.conf')]);
    argv = ['/usr/sbin/named', '-g', '-c', join(dir, 'named.conf')];
  } else {
    writeFileSync(join(dir, 'knot.conf'), knotConfig(dir, port));
    argv = ['/usr/sbin/knotd', '-c', join(dir, 'knot.conf')];
  }
  const logFile = join(dir, 'server.log');
  const out: string[] = [];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  const log = () => out.join('');
  const pid = child.pid!;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(pid, 'SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    }
    writeFileSync(logFile, log());
    if (!process.env.RAPTOR_KEEP_DNS_DIRS) rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  try {
    await waitUntilServing(port, child, log);
  } catch (err) {
    await stop();
    throw err;
  }
  return { kind, port, dir, keyFile, wrongKeyFile, pid, log, stop };
}

/** `dig +short` answers, independent of raptor's client. */
export function dig(port: number, name: string, type: string): string[] {
  const out = execFileSync('/usr/bin/dig', ['@127.0.0.1', '-p', String(port), '+tcp', '+short', '+time=2', '+tries=1', name, type], {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C' },
  });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .sort();
}

/** Change a zone by hand the way an admin would: `nsupdate -k FILE` with a script on stdin. */
export function nsupdate(port: number, keyFile: string, commands: string[], zone = ZONE): void {
  // naming the zone spares nsupdate its SOA discovery, which sometimes stalls ~1 s against Knot
  const script = [`server 127.0.0.1 ${port}`, `zone ${zone}`, ...commands, 'send', ''].join('\n');
  execFileSync('/usr/bin/nsupdate', ['-v', '-k', keyFile], { input: script, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
}

/** The zone's serial, to show that a failed update left the zone alone. */
export function soaSerial(port: number, zone: string): number {
  const [soa] = dig(port, zone, 'SOA');
  return Number(soa?.split(/\s+/)[2]);
}

export const readLog = (server: RunningServer): string => (existsSync(join(server.dir, 'server.log')) ? readFileSync(join(server.dir, 'server.log'), 'utf8') : server.log());
