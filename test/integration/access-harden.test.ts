// Issue 16 and issue 9 items 4 and 5 on the real host: the host lock is root's alone, accounts
// raptor did not make are left alone, and a refused `vm create --ssh-key` changes nothing.
// Users: mona (a vm-user), hank (an existing account outside vm-users), jack (in vm-users by hand),
// ivy and kim (made by raptor), hiuid (uid above UID_MAX).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cleanup, dnsAnswers, hostSnapshot, loadTestConfig, raptor } from './lib/raptor.ts';
import { accessConfigPath, accountFiles, asUser, ensureBuilt, getent, groupExists, removeAccount, root, rootOk, TEST_KEYS } from './lib/users.ts';

const USERS = ['mona', 'hank', 'jack', 'ivy', 'kim', 'hiuid'];
const VMS = ['mona-lk', 'ivy-k', 'daemon-x', 'hank-x'];

interface Record {
  accounts: { user: string; uid: number; how: string }[];
}

describe('hardened access: host lock, account record, create pre-checks', { timeout: 600_000 }, () => {
  let config = '';
  let recordFile = '';
  let lockFile = '';
  let createdUserGroup = false;
  const background: number[] = [];

  const readRecord = (): Record => JSON.parse(readFileSync(recordFile, 'utf8')) as Record;
  const uidOf = (u: string): number => Number(getent('passwd', u)!.split(':')[2]);
  const inGroup = (u: string): boolean => (getent('group', 'vm-users')?.split(':')[3] ?? '').split(',').includes(u);

  before(async () => {
    ensureBuilt();
    config = accessConfigPath();
    recordFile = `/run/raptor-sandbox/accounts-test-${process.pid}.json`;
    // the [access] table is the last one in the sandbox config
    writeFileSync(config, `${readFileSync(config, 'utf8')}accounts_file = "${recordFile}"\n`);
    lockFile = loadTestConfig(config).lock_file;
    for (const u of USERS) removeAccount(u);
    cleanup(loadTestConfig(config), VMS);
    createdUserGroup = !groupExists('vm-users');
    const init = await raptor(['host', 'init'], { config });
    assert.equal(init.code, 0, init.stderr);
    const mona = await raptor(['user', 'add', 'mona'], { config });
    assert.equal(mona.code, 0, mona.stderr);
  });

  after(() => {
    for (const pid of background) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    cleanup(loadTestConfig(config), VMS);
    for (const u of USERS) removeAccount(u);
    if (createdUserGroup) root(['groupdel', 'vm-users']);
    rmSync(recordFile, { force: true });
    rmSync(config, { force: true });
  });

  /** `flock LOCK sleep 60` as `user`, in the background; resolves once it holds the lock (or failed). */
  function holdAs(user: string): Promise<{ pid: number; held: boolean; stderr: string }> {
    return new Promise((resolve) => {
      // sh's echo writes at once (flock --verbose would sit in stdio's buffer until exit)
      const child = spawn('runuser', ['-u', user, '--', 'flock', lockFile, 'sh', '-c', 'echo held; exec sleep 60'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      background.push(child.pid!);
      let out = '';
      const seen = (d: Buffer) => {
        out += d.toString();
        if (/^held$/m.test(out)) resolve({ pid: child.pid!, held: true, stderr: out });
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      child.on('close', () => resolve({ pid: child.pid!, held: false, stderr: out }));
    });
  }

  test('issue 16: a vm-user cannot open or lock the host lock; an admin\'s create goes through at once', async () => {
    // make sure the lock file exists in its hardened form
    assert.equal((await raptor(['host', 'init'], { config })).code, 0);
    const st = statSync(lockFile);
    assert.equal(st.mode & 0o7777, 0o600);
    assert.equal(st.uid, 0);
    assert.equal(statSync(lockFile.replace(/\/[^/]+$/, '')).mode & 0o022, 0, 'the lock directory is writable by root only');
    const tryLock = asUser('mona', ['flock', '--nonblock', lockFile, 'true']);
    assert.notEqual(tryLock.code, 0);
    assert.match(tryLock.stderr, /cannot open lock file.*Permission denied/);
    const hold = await holdAs('mona');
    assert.equal(hold.held, false, hold.stderr);

    const t0 = Date.now();
    const made = await raptor(['vm', 'create', 'mona-lk', '--cpus', '1', '--memory', '64M', '--disk', '64M', '--no-network'], { config });
    const ms = Date.now() - t0;
    assert.equal(made.code, 0, made.stderr);
    assert.doesNotMatch(made.stderr, /waiting for another raptor process/);
    console.log(`  admin's create with mona trying the lock: ${ms} ms`);
    const gone = await raptor(['vm', 'destroy', 'mona-lk', '--yes'], { config });
    assert.equal(gone.code, 0, gone.stderr);
  });

  test('issue 16: a lock file left 0644 by an older raptor, held by a vm-user, is replaced before use', async () => {
    // what an older raptor left: 0644, and mona took the lock while she still could
    rmSync(lockFile, { force: true });
    writeFileSync(lockFile, '1\n', { mode: 0o644 });
    chmodSync(lockFile, 0o644);
    const oldIno = statSync(lockFile).ino;
    const hold = await holdAs('mona');
    assert.equal(hold.held, true, `mona could not take the old 0644 lock: ${hold.stderr}`);
    const t0 = Date.now();
    const r = await raptor(['host', 'init'], { config });
    const ms = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the host lock .* has mode 0644 \(at most 0600\); uid \d+ \(pid [\d, ]+\) had it open: replaced by a new 0600 file only root can open/);
    assert.ok(ms < 30_000, `host init took ${ms} ms`);
    const st = statSync(lockFile);
    assert.equal(st.mode & 0o7777, 0o600);
    assert.notEqual(st.ino, oldIno);
    assert.equal(asUser('mona', ['flock', '--nonblock', lockFile, 'true']).code === 0, false);
    console.log(`  host init with mona holding the old 0644 lock: ${ms} ms, lock replaced`);
  });

  test('issue 9.4: system accounts by the host\'s ranges (login.defs, 65534) are refused with exit 5', async () => {
    rootOk(['useradd', '--uid', '60001', '--no-create-home', 'hiuid']);
    const snap = accountFiles();
    for (const [u, re] of [
      ['nobody', /nobody is a system account \(uid 65534/],
      ['daemon', /daemon is a system account \(uid 1;/],
      ['root', /root is a system account \(uid 0;/],
      ['hiuid', /hiuid is a system account \(uid 60001; ordinary accounts here are uids 1000-60000 per \/etc\/login.defs/],
    ] as const) {
      const r = await raptor(['user', 'add', u, '--add-existing', '--ssh-key', TEST_KEYS.alice], { config });
      assert.equal(r.code, 5, `${u}: ${r.stderr}`);
      assert.match(r.stderr, re);
      const rm = await raptor(['user', 'remove', u], { config });
      assert.equal(rm.code, 5, `remove ${u}: ${rm.stderr}`);
    }
    assert.deepEqual(accountFiles(), snap);
    assert.ok(!existsSync('/nonexistent/.ssh'));
  });

  test('issue 9.4: an existing account joins vm-users only with --add-existing, and user remove keeps it', async () => {
    rootOk(['useradd', '--create-home', '--shell', '/bin/bash', 'hank']);
    const snap = accountFiles();
    const refused = await raptor(['user', 'add', 'hank', '--ssh-key', TEST_KEYS.alice], { config });
    assert.equal(refused.code, 5, refused.stderr);
    assert.match(refused.stderr, /hank is an existing account \(uid \d+\) outside vm-users; making it a VM user is a privilege change .*pass --add-existing/);
    assert.deepEqual(accountFiles(), snap);
    assert.ok(!existsSync('/home/hank/.ssh'));

    const added = await raptor(['user', 'add', 'hank', '--add-existing', '--ssh-key', TEST_KEYS.alice], { config });
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /add hank to the user group/);
    assert.ok(inGroup('hank'));
    assert.deepEqual(readRecord().accounts.find((e) => e.user === 'hank'), { ...readRecord().accounts.find((e) => e.user === 'hank'), uid: uidOf('hank'), how: 'added' });

    const snap2 = accountFiles();
    const rm = await raptor(['user', 'remove', 'hank', '--purge'], { config });
    assert.equal(rm.code, 5, rm.stderr);
    assert.match(rm.stderr, /raptor only added the existing account hank to vm-users \(--add-existing, .*\), so it will not delete it; to take it out of vm-users only: gpasswd --delete hank vm-users/);
    assert.deepEqual(accountFiles(), snap2);
    assert.ok(existsSync('/home/hank'));

    // in vm-users by hand, never recorded: not raptor's to delete either
    rootOk(['useradd', '--create-home', '--groups', 'vm-users', 'jack']);
    const rmJack = await raptor(['user', 'remove', 'jack'], { config });
    assert.equal(rmJack.code, 5, rmJack.stderr);
    assert.match(rmJack.stderr, /raptor did not create jack \(uid \d+; not in .*\), so it will not delete it/);
    assert.ok(getent('passwd', 'jack'));
  });

  test('issue 9.4: the account record: 0600, tolerated when missing, refused when loose; user remove deletes only what it recorded', async () => {
    rmSync(recordFile, { force: true });
    const ivy = await raptor(['user', 'add', 'ivy'], { config });
    assert.equal(ivy.code, 0, ivy.stderr);
    const st = statSync(recordFile);
    assert.equal(st.mode & 0o7777, 0o600);
    assert.equal(st.uid, 0);
    assert.deepEqual(readRecord().accounts.map((e) => [e.user, e.how, e.uid]), [['ivy', 'created', uidOf('ivy')]]);
    const list = await raptor(['--json', 'user', 'list'], { config });
    assert.equal((list.json as { user: string; raptor: string | null }[]).find((u) => u.user === 'ivy')?.raptor, 'created');

    // loose modes: refused before any change
    chmodSync(recordFile, 0o644);
    const snap = accountFiles();
    const recBefore = readFileSync(recordFile, 'utf8');
    for (const args of [['user', 'add', 'kim'], ['user', 'remove', 'ivy'], ['user', 'add', 'kim', '--dry-run']]) {
      const r = await raptor(args, { config });
      assert.equal(r.code, 5, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /refusing to trust the account record: .* has mode 0644 \(at most 0600\); fix: chmod 0600/);
    }
    assert.deepEqual(accountFiles(), snap);
    assert.equal(readFileSync(recordFile, 'utf8'), recBefore);
    chmodSync(recordFile, 0o600);

    const rm = await raptor(['user', 'remove', 'ivy', '--purge'], { config });
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(getent('passwd', 'ivy'), undefined);
    assert.deepEqual(readRecord().accounts.filter((e) => e.user === 'ivy'), []);
  });

  test('issue 9.5: vm create --ssh-key refuses a system account or an existing outsider before any change (exit 5)', async () => {
    const cfg = loadTestConfig(config);
    const snap = hostSnapshot(cfg);
    const accounts = accountFiles();
    const record = readFileSync(recordFile, 'utf8');
    for (const [vm, re] of [
      ['daemon-x', /daemon is a system account/],
      ['hank-x', /hank is an existing account .* pass --add-existing/],
    ] as const) {
      if (vm === 'hank-x') root(['gpasswd', '--delete', 'hank', 'vm-users']);
      const a = vm === 'hank-x' ? accountFiles() : accounts;
      for (const extra of [[], ['--dry-run']]) {
        const r = await raptor(['vm', 'create', vm, '--cpus', '1', '--memory', '64M', '--disk', '64M', '--ssh-key', TEST_KEYS.alice, ...extra], { config });
        assert.equal(r.code, 5, `${vm} ${extra.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re);
      }
      assert.equal(hostSnapshot(cfg), snap, `${vm}: domains, LVs or NVRAM changed`);
      assert.deepEqual(accountFiles(), a, `${vm}: account files changed`);
      assert.deepEqual(dnsAnswers(cfg, `${vm}.${cfg.dns.zone}`, 'A'), [], `${vm}: DNS changed`);
    }
    assert.equal(readFileSync(recordFile, 'utf8'), record);

    // the dry run shows the account work; the real create does it after the VM
    const dry = await raptor(['vm', 'create', 'ivy-k', '--cpus', '1', '--memory', '64M', '--disk', '64M', '--no-network', '--ssh-key', TEST_KEYS.alice, '--dry-run'], { config });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Account ivy \(after the VM is made\):\n\s+would create account ivy\n\s+would install key ssh-ed25519 SHA256:/);
    assert.equal(getent('passwd', 'ivy'), undefined);
    const made = await raptor(['vm', 'create', 'ivy-k', '--cpus', '1', '--memory', '64M', '--disk', '64M', '--no-network', '--ssh-key', TEST_KEYS.alice], { config });
    assert.equal(made.code, 0, made.stderr);
    assert.ok(inGroup('ivy'));
    assert.equal(readRecord().accounts.find((e) => e.user === 'ivy')?.how, 'created');
    assert.equal((await raptor(['vm', 'destroy', 'ivy-k', '--yes'], { config })).code, 0);
    assert.equal((await raptor(['user', 'remove', 'ivy', '--purge'], { config })).code, 0);
  });
  test('issue 16: a seed directory others can write is refused before any change and reported by host check', async () => {
    const cfg = loadTestConfig(config);
    const seedDir = `/run/raptor-sandbox/seeds-test-${process.pid}`;
    const cfgText = readFileSync(config, 'utf8');
    // a top-level key must come before the first table
    writeFileSync(config, `seed_dir = "${seedDir}"\n${cfgText}`);
    try {
      rmSync(seedDir, { recursive: true, force: true });
      const ok = await raptor(['vm', 'create', 'ivy-k', '--cpus', '1', '--memory', '64M', '--disk', '64M', '--no-network'], { config });
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(statSync(seedDir).mode & 0o7777, 0o711, 'raptor makes the seed directory 0711');
      assert.equal((await raptor(['vm', 'destroy', 'ivy-k', '--yes'], { config })).code, 0);
      chmodSync(seedDir, 0o777);
      const snap = hostSnapshot(cfg);
      const r = await raptor(['vm', 'create', 'ivy-k', '--cpus', '1', '--memory', '64M', '--disk', '64M', '--no-network'], { config });
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /refusing to use the seed directory: .* group or others may create, rename and delete entries in it/);
      assert.equal(hostSnapshot(cfg), snap, 'a refused create changed the host');
      const check = await raptor(['host', 'check', '--json'], { config });
      const line = (check.json as { check: string; ok: boolean; detail: string; fix: string | null }[]).find((l) => l.check === 'file seed directory');
      assert.equal(line?.ok, false, JSON.stringify(line));
      assert.match(line!.fix ?? '', /chmod/);
    } finally {
      cleanup(cfg, ['ivy-k']);
      rmSync(seedDir, { recursive: true, force: true });
      writeFileSync(config, cfgText);
    }
  });
});
