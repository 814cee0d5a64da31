// The hypervisor's console as a byte stream (Virsh.openConsole, for a future web console), and
// `raptor vm console` on a terminal, against a real sandbox guest: the demo image boots to a shell
// on its VirtIO console; a command typed into the stream is answered by the guest.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { RaptorError } from '../../src/core/errors.ts';
import { isAuthFailure, isNoDomain } from '../../src/libvirt/hypervisor.ts';
import { Virsh } from '../../src/libvirt/virsh.ts';
import { runCommand } from '../../src/host/runner.ts';
import { actorForUser } from '../../src/host/identity.ts';
import { actorHv } from '../../src/service/as-actor.ts';
import { createContext } from '../../src/service/vm.ts';
import { cleanup, loadTestConfig, raptor, RAPTOR, sh, testConfigPath } from './lib/raptor.ts';
import { removeAccount, rootOk } from './lib/users.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const cfgPath = testConfigPath();
const config = loadTestConfig(cfgPath);
const OWNER = 'hvcon';
const VM = `${OWNER}-s`;
const hv = new Virsh(runCommand, config.libvirt_uri);

/** Collect the stream's output until `re` matches it (or fail after timeoutMs). */
function readUntil(stream: Duplex, re: RegExp, timeoutMs: number, seen = { text: '' }): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = re.exec(seen.text);
      if (!m) return false;
      stream.off('data', onData);
      clearTimeout(timer);
      resolve(m);
      return true;
    };
    const onData = (d: Buffer) => {
      seen.text += d.toString('latin1');
      check();
    };
    const timer = setTimeout(() => {
      stream.off('data', onData);
      reject(new Error(`no ${re} on the console stream within ${timeoutMs} ms; it read:\n${seen.text.slice(-800)}`));
    }, timeoutMs);
    if (!check()) stream.on('data', onData);
  });
}

/** pids of `virsh … console VM` processes (none may be left once a stream is closed). */
const consoleProcesses = (): string[] =>
  sh(['ps', '-eo', 'pid=,args=']).split('\n').filter((l) => l.includes('virsh') && l.includes(' console ') && l.includes(VM)).map((l) => l.trim());

/** Wait (up to 5 s) until no virsh console of VM runs, and say so. */
async function noConsoleLeft(): Promise<void> {
  for (let i = 0; i < 50 && consoleProcesses().length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(consoleProcesses(), []);
}

describe('hypervisor console stream', () => {
  before(async () => {
    cleanup(config, [VM]);
    removeAccount(OWNER);
    rootOk(['useradd', '--no-create-home', '--groups', config.access.user_group, OWNER]);
    // a copy of its own: other work may rebuild the shared default image from another recipe meanwhile
    const image = sh([`${ROOT}scripts/guest-image`, '--out', '/var/cache/raptor/hv-console-guest.img']).trim().split('\n').pop()!;
    const out = await raptor(['--config', cfgPath, 'vm', 'create', VM, '--cpus', '1', '--memory', '512M', '--disk', '64M', '--image', image, '--no-network', '--no-cloud-init', '--start', '--wait-for', 'raptor-guest: ready', '--timeout', '180']);
    assert.equal(out.code, 0, out.stderr);
  });
  after(() => {
    cleanup(config, [VM]);
    removeAccount(OWNER);
  });

  test('openConsole: the banner, then a command typed into the stream is run by the guest', async () => {
    const t0 = Date.now();
    const stream = await hv.openConsole(VM);
    const seen = { text: '' };
    try {
      await readUntil(stream, new RegExp(`Connected to domain '?${VM}'?`), 20_000, seen);
      const connectMs = Date.now() - t0;
      // the shell's answer holds a number only the guest computes: an echo of our input would not match
      const ask = () => stream.write('echo raptor-sum=$((6*7))\r');
      ask();
      const retry = setInterval(ask, 5000);
      try {
        await readUntil(stream, /raptor-sum=42/, 60_000, seen);
      } finally {
        clearInterval(retry);
      }
      console.log(`# console stream: banner after ${connectMs} ms, guest answered after ${Date.now() - t0} ms`);
    } finally {
      stream.destroy();
    }
    // destroying the stream ends virsh console: nothing is left attached
    await noConsoleLeft();
  });

  test('openConsole of a missing domain: a typed no-domain error, no process started', async () => {
    const err = await hv.openConsole('hvcon-nope').catch((e: unknown) => e);
    assert.ok(isNoDomain(err), String(err));
  });

  test("a server acting for the owner opens the owner's console as the owner; libvirt refuses an outsider", async () => {
    // the actor's stream runs through setpriv: polkit judges the owner, not this root process
    const owner = createContext(config, 'test', await actorForUser(runCommand, OWNER, 'http'));
    const stream = await actorHv(owner).openConsole(VM);
    try {
      await readUntil(stream, new RegExp(`Connected to domain '?${VM}'?`), 20_000);
    } finally {
      stream.destroy();
    }
    await noConsoleLeft();
    // not in the user group: polkit refuses the connection itself (libvirt's VIR_ERR_AUTH_FAILED), exit 5
    const outsider = createContext(config, 'test', await actorForUser(runCommand, 'nobody', 'http'));
    const err = await actorHv(outsider).openConsole(VM).catch((e: unknown) => e);
    assert.ok(isAuthFailure(err) && err instanceof RaptorError && err.kind === 'not-allowed', String(err));
  });

  test('raptor vm console attaches a terminal (Ctrl+] leaves, exit 0)', async () => {
    // script(1) gives the CLI a terminal, as a user's shell would
    const child = spawn('script', ['--quiet', '--return', '--command', `exec "${process.execPath}" "${RAPTOR}" --config "${cfgPath}" vm console ${VM}`, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, SHELL: '/bin/sh' },
    });
    let out = '';
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        if (/Connected to domain/.test(out)) setTimeout(() => child.stdin.write('\x1d'), 300);
      });
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.match(out, new RegExp(`Connected to domain '?${VM}'?`));
    assert.equal(code, 0, out);
  });

  test('raptor vm console of a missing VM: not found (exit 4)', async () => {
    const out = await raptor(['--config', cfgPath, 'vm', 'console', 'hvcon-nope']);
    assert.equal(out.code, 4, out.stderr);
  });
});
