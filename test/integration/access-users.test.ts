// Accounts and host setup against the real host: user add/remove/list, refusals that change
// nothing, host init idempotence, host check. Users erin and frank (no VM ids of other tests).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTestConfig, raptor } from './lib/raptor.ts';
import { accessConfigPath, accountFiles, defineTinyDomain, ensureBuilt, getent, groupExists, removeAccount, removeTinyDomain, root, TEST_KEYS } from './lib/users.ts';

const ERIN_KEYS = '/home/erin/.ssh/authorized_keys';

describe('accounts and host setup', { timeout: 300_000 }, () => {
  let config = '';
  let createdUserGroup = false;
  let dir = '';

  before(async () => {
    ensureBuilt();
    config = accessConfigPath();
    dir = mkdtempSync(join(tmpdir(), 'raptor-keys-'));
    for (const u of ['erin', 'frank', 'zed']) removeAccount(u);
    removeTinyDomain('erin-x');
    createdUserGroup = !groupExists('vm-users');
    const init = await raptor(['host', 'init'], { config });
    assert.equal(init.code, 0, init.stderr);
  });

  after(() => {
    removeTinyDomain('erin-x');
    for (const u of ['erin', 'frank', 'zed']) removeAccount(u);
    if (createdUserGroup) root(['groupdel', 'vm-users']);
    rmSync(dir, { recursive: true, force: true });
    rmSync(config, { force: true });
  });

  test('user add: account in vm-users, keys from text and a .pub file, 0700/0600 owned by the user', async () => {
    const pub = join(dir, 'keys.pub');
    writeFileSync(pub, `# two keys\n${TEST_KEYS.bob}\n${TEST_KEYS.rsa2048}\n`);
    const r = await raptor(['user', 'add', 'erin', '--ssh-key', TEST_KEYS.alice, '--ssh-key', pub], { config });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /create account erin/);
    const pw = getent('passwd', 'erin')!.split(':');
    assert.equal(pw[6], '/bin/bash');
    assert.ok(getent('group', 'vm-users')!.split(':')[3]!.split(',').includes('erin'));
    const lines = readFileSync(ERIN_KEYS, 'utf8').trim().split('\n');
    assert.deepEqual(lines, [TEST_KEYS.alice, TEST_KEYS.bob, TEST_KEYS.rsa2048]);
    const d = statSync('/home/erin/.ssh');
    const f = statSync(ERIN_KEYS);
    assert.equal(d.mode & 0o777, 0o700);
    assert.equal(f.mode & 0o777, 0o600);
    assert.equal(d.uid, Number(pw[2]));
    assert.equal(f.uid, Number(pw[2]));
    assert.equal(f.gid, Number(pw[3]));
  });

  test('user add again: nothing changes; a new key is appended alone', async () => {
    const before = readFileSync(ERIN_KEYS, 'utf8');
    const mtime = statSync(ERIN_KEYS).mtimeMs;
    const again = await raptor(['--json', 'user', 'add', 'erin', '--ssh-key', TEST_KEYS.alice.replace('alice@laptop', 'other comment')], { config });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.json as { changed: boolean }).changed, false);
    assert.equal(readFileSync(ERIN_KEYS, 'utf8'), before);
    assert.equal(statSync(ERIN_KEYS).mtimeMs, mtime);
    const sk = 'sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHAAAABHNzaDo= yubikey';
    const add = await raptor(['user', 'add', 'erin', '--ssh-key', sk], { config });
    assert.equal(add.code, 0, add.stderr);
    assert.equal(readFileSync(ERIN_KEYS, 'utf8'), `${before}${sk}\n`);
  });

  test('bad names and keys exit 2 and leave /etc/passwd, /etc/group and authorized_keys unchanged', async () => {
    const priv = join(dir, 'id_ed25519');
    writeFileSync(priv, TEST_KEYS.private, { mode: 0o600 });
    const snapshot = accountFiles([ERIN_KEYS]);
    const cases: { args: string[]; err: RegExp }[] = [
      { args: ['user', 'add', 'Erin'], err: /invalid user "Erin"/ },
      { args: ['user', 'add', 'erin-x', '--ssh-key', TEST_KEYS.alice], err: /invalid user "erin-x"/ },
      { args: ['user', 'add', '9lives'], err: /invalid user/ },
      { args: ['user', 'add', 'zed', '--ssh-key', TEST_KEYS.rsa1024], err: /1024 bits is too small/ },
      { args: ['user', 'add', 'erin', '--ssh-key', TEST_KEYS.bob, '--ssh-key', 'ssh-ed25519 AAAA$$$'], err: /not valid base64/ },
      { args: ['user', 'add', 'zed', '--ssh-key', TEST_KEYS.alice, '--ssh-key', TEST_KEYS.private], err: /PRIVATE key: it must never be pasted/ },
      { args: ['user', 'add', 'zed', '--ssh-key', priv], err: /PRIVATE key: it must never be pasted/ },
      { args: ['user', 'add', 'zed', '--ssh-key', join(dir, 'missing.pub')], err: /cannot read the file \(ENOENT\)/ },
      { args: ['user', 'add', 'zed', '--ssh-key', `ssh-rsa ${TEST_KEYS.alice.split(' ')[1]}`], err: /the key type inside the key data is not ssh-rsa/ },
      { args: ['user', 'remove', 'Bad-Name'], err: /invalid user/ },
    ];
    for (const c of cases) {
      const r = await raptor(c.args, { config });
      assert.equal(r.code, 2, `${c.args.join(' ')}: exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, c.err);
    }
    const j = await raptor(['--json', 'user', 'add', 'zed', '--ssh-key', TEST_KEYS.private], { config });
    assert.equal(j.code, 2);
    assert.equal((j.json as { error: { code: string } }).error.code, 'bad-input');
    const dry = await raptor(['user', 'add', 'zed', '--dry-run', '--ssh-key', TEST_KEYS.alice], { config });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would create account zed/);
    assert.deepEqual(accountFiles([ERIN_KEYS]), snapshot);
    assert.equal(getent('passwd', 'zed'), undefined);
  });

  test('user list shows vm-users with their VMs; user remove refuses while VMs exist (3), then removes', async () => {
    defineTinyDomain('erin-x');
    const list = await raptor(['--json', 'user', 'list'], { config });
    assert.equal(list.code, 0, list.stderr);
    const erin = (list.json as { user: string; vms: string[] }[]).find((u) => u.user === 'erin');
    assert.deepEqual(erin?.vms, ['erin-x']);
    const text = await raptor(['user', 'list'], { config });
    // USER UID RAPTOR, then use against quota (VMS VCPUS MEMORY DISK), then the VM names
    assert.match(text.stdout, /^erin\s+\d+\s+created\s+1\/-\s+1\/-\s+64 MiB\/-\s+\S+ B\/-\s+erin-x$/m);

    const snapshot = accountFiles();
    const refused = await raptor(['user', 'remove', 'erin'], { config });
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /erin still owns erin-x: destroy them first/);
    assert.deepEqual(accountFiles(), snapshot);

    removeTinyDomain('erin-x');
    const removed = await raptor(['user', 'remove', 'erin'], { config });
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed erin \(home kept\)/);
    assert.equal(getent('passwd', 'erin'), undefined);
    assert.ok(existsSync('/home/erin/.ssh/authorized_keys'), 'home kept');
    rmSync('/home/erin', { recursive: true, force: true });

    const missing = await raptor(['user', 'remove', 'erin'], { config });
    assert.equal(missing.code, 4, missing.stderr);
    const rootRefused = await raptor(['user', 'remove', 'root'], { config });
    assert.equal(rootRefused.code, 5, rootRefused.stderr);
    assert.match(rootRefused.stderr, /system account/);

    const frank = await raptor(['user', 'add', 'frank'], { config });
    assert.equal(frank.code, 0, frank.stderr);
    const purge = await raptor(['user', 'remove', 'frank', '--purge'], { config });
    assert.equal(purge.code, 0, purge.stderr);
    assert.ok(!existsSync('/home/frank'));
  });

  test('host init twice: the second run changes nothing, files byte-identical, mtimes unchanged', async () => {
    const cfg = loadTestConfig(config);
    const files = [cfg.access.polkit_rules_file, ...(cfg.access.libvirt_daemon_configs ?? [])];
    const first = await raptor(['host', 'init'], { config });
    assert.equal(first.code, 0, first.stderr);
    const before = files.map((f) => ({ text: readFileSync(f, 'utf8'), mtime: statSync(f).mtimeMs }));
    const second = await raptor(['host', 'init'], { config });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /nothing changed: the host was already set up/);
    assert.match(second.stdout, /no libvirt restart needed/);
    const json = await raptor(['--json', 'host', 'init'], { config });
    assert.equal((json.json as { changed: boolean }).changed, false);
    assert.deepEqual(files.map((f) => ({ text: readFileSync(f, 'utf8'), mtime: statSync(f).mtimeMs })), before);
  });

  test('host check: all ok; a deleted rules file is reported with the exact fix; host init restores it', async () => {
    const ok = await raptor(['--json', 'host', 'check'], { config });
    const lines = ok.json as { check: string; ok: boolean; detail: string; fix: string | null }[];
    assert.deepEqual(lines.filter((l) => !l.ok), [], ok.stdout);
    assert.equal(ok.code, 0);
    for (const c of ['libvirt reachable', 'polkit rules', 'group vm-users', 'firmware.code', 'firmware.vars', 'volume group lvm-data', 'bridge br-vm1', 'DNS', 'lock file', 'audit log']) {
      assert.ok(lines.some((l) => l.check === c), `no "${c}" line`);
    }
    assert.ok(lines.some((l) => l.check.startsWith('libvirt ACL driver')));

    const rulesFile = loadTestConfig(config).access.polkit_rules_file;
    const saved = readFileSync(rulesFile, 'utf8');
    unlinkSync(rulesFile);
    try {
      const bad = await raptor(['host', 'check'], { config });
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, new RegExp(`^WRONG\\s+polkit rules\\s+${rulesFile} is missing$`, 'm'));
      assert.match(bad.stdout, new RegExp(`^\\s+fix: raptor host init \\(installs ${rulesFile}; polkitd reloads it by itself\\)$`, 'm'));
      assert.match(bad.stdout, /1 of \d+ checks are wrong/);
      const badJson = await raptor(['--json', 'host', 'check'], { config });
      assert.equal(badJson.code, 1);
      const wrong = (badJson.json as { check: string; ok: boolean; fix: string }[]).filter((l) => !l.ok);
      assert.deepEqual(wrong.map((l) => l.check), ['polkit rules']);
      const dry = await raptor(['host', 'init', '--dry-run'], { config });
      assert.match(dry.stdout, /would change\s+polkit rules/);
      assert.ok(!existsSync(rulesFile));
    } finally {
      const restore = await raptor(['host', 'init'], { config });
      assert.equal(restore.code, 0, restore.stderr);
    }
    assert.equal(readFileSync(rulesFile, 'utf8'), saved);
    assert.equal((await raptor(['host', 'check'], { config })).code, 0);
  });
});
