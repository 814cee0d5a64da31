// Issue 9 item 12: libvirtd opens client-named paths (virsh restore FILE) before its ACL check, so a
// vm-user's FIFO used to block every worker. The sandbox runs libvirtd in its own mount namespace
// (what systemd makes for PrivateTmp/ProtectHome/TemporaryFileSystem): her FIFOs in /tmp, /var/tmp,
// /dev/shm and her home are not there for libvirtd, and everyone else's calls still answer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { constants, closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { raptor } from './lib/raptor.ts';
import { accessConfigPath, asUser, ensureBuilt, groupExists, removeAccount, root, rootOk, URI } from './lib/users.ts';

const ATTACKS = 25;

describe('libvirtd confinement: a vm-user\'s FIFOs cannot hang libvirtd', { timeout: 300_000 }, () => {
  let config = '';
  let createdUserGroup = false;
  const fifos: string[] = [];
  const background: number[] = [];

  /** Open each FIFO for writing: a libvirtd worker blocked opening it (unconfined) is released. */
  const unblock = () => {
    for (const f of fifos) {
      try {
        closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting (ENXIO) or gone
      }
    }
  };

  before(async () => {
    ensureBuilt();
    config = accessConfigPath();
    for (const u of ['nell', 'olga']) removeAccount(u);
    createdUserGroup = !groupExists('vm-users');
    for (const u of ['nell', 'olga']) {
      const r = await raptor(['user', 'add', u], { config });
      assert.equal(r.code, 0, r.stderr);
    }
    for (const f of [`/tmp/nell-fifo-${process.pid}`, `/var/tmp/nell-fifo-${process.pid}`, `/dev/shm/nell-fifo-${process.pid}`, '/home/nell/fifo']) {
      const o = asUser('nell', ['mkfifo', f]);
      assert.equal(o.code, 0, o.stderr);
      fifos.push(f);
    }
  });

  after(() => {
    unblock();
    for (const pid of background) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // exited
      }
    }
    for (const f of fifos) rmSync(f, { force: true });
    for (const u of ['nell', 'olga']) removeAccount(u);
    if (createdUserGroup) root(['groupdel', 'vm-users']);
    rmSync(config, { force: true });
  });

  test('host check reports the running libvirtd as confined', async () => {
    const r = await raptor(['--json', 'host', 'check'], { config });
    const lines = r.json as { check: string; ok: boolean; detail: string }[];
    const conf = lines.filter((l) => l.check.startsWith('libvirtd confinement'));
    assert.ok(conf.length > 0, r.stdout);
    for (const l of conf) {
      assert.equal(l.ok, true, l.detail);
      assert.match(l.detail, /^confined: its own \/tmp, \/var\/tmp, \/dev\/shm, \/run\/lock, \/home, \/root/);
    }
  });

  test(`${ATTACKS} background virsh restore of her FIFOs: other users and root still answer promptly`, async () => {
    // one first, with a deadline: if it hangs the daemon is not confined, and the flood must not start
    const t0 = Date.now();
    const one = asUser('nell', ['virsh', '-c', URI, 'restore', fifos[0]!], { timeoutMs: 20_000 });
    assert.notEqual(one.code, null, 'virsh restore of a FIFO hung: libvirtd is not confined');
    assert.notEqual(one.code, 0);
    console.log(`  one restore of ${fifos[0]}: exit ${one.code} after ${Date.now() - t0} ms: ${one.stderr.trim().split('\n').pop()}`);

    const done: Promise<{ code: number | null; ms: number }>[] = [];
    for (let i = 0; i < ATTACKS; i++) {
      const f = fifos[i % fifos.length]!;
      done.push(
        new Promise((resolve) => {
          const s = Date.now();
          const c = spawn('runuser', ['-u', 'nell', '--', 'timeout', '60', 'virsh', '-c', URI, 'restore', f], { detached: true, stdio: 'ignore' });
          background.push(c.pid!);
          c.on('close', (code) => resolve({ code, ms: Date.now() - s }));
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    for (const [who, argv] of [
      ['olga', ['runuser', '-u', 'olga', '--', 'virsh', '-c', URI, 'list', '--all']],
      ['root', ['virsh', '-c', URI, 'list', '--all']],
    ] as const) {
      const s = Date.now();
      const o = await new Promise<{ code: number | null }>((resolve) => {
        const c = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
        const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
        c.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code });
        });
      });
      const ms = Date.now() - s;
      console.log(`  ${who}: virsh list answered in ${ms} ms while ${ATTACKS} restores ran`);
      assert.equal(o.code, 0, `${who}'s virsh list did not answer within 15 s`);
      assert.ok(ms < 10_000, `${who}'s virsh list took ${ms} ms`);
    }
    const results = await Promise.all(done);
    const slowest = Math.max(...results.map((r) => r.ms));
    console.log(`  ${ATTACKS} restores all ended, slowest after ${slowest} ms, exit codes ${[...new Set(results.map((r) => r.code))].join(',')}`);
    assert.ok(results.every((r) => r.code !== 0 && r.code !== 124), 'a restore succeeded or hung until timeout');
    // libvirtd still answers, and its log shows it never saw her files
    rootOk(['virsh', '-c', URI, 'version']);
  });

  test('her paths and root-only files under hidden directories look the same to libvirtd: missing', () => {
    const errOf = (path: string) => asUser('nell', ['virsh', '-c', URI, 'restore', path], { timeoutMs: 20_000 }).stderr.replaceAll(path, 'PATH').trim();
    assert.ok(existsSync('/root/.bashrc') || existsSync('/root'));
    const existing = errOf('/root/.bashrc');
    const missing = errOf('/root/no-such-file-raptor');
    assert.equal(existing, missing);
    assert.match(missing, /No such file|cannot|Failed/i);
  });
});
