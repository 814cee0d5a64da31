// The real authorized_keys reader and writer on a scratch home (as the caller: no root needed).
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShadowAccounts, type Account } from './accounts.ts';

const accounts = new ShadowAccounts(async () => {
  throw new Error('no process expected');
}, '/nonexistent/accounts.json');

function home(): Account {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-home-'));
  return { name: 'me', uid: process.getuid!(), gid: process.getgid!(), home: dir, shell: '/bin/bash' };
}

test('authorized_keys: made 0700/0600, then put back exactly as it was (missing ~/.ssh removed)', async () => {
  const acct = home();
  const before = await accounts.readAuthorizedKeys(acct);
  assert.deepEqual(before, { path: join(acct.home, '.ssh/authorized_keys') });
  await accounts.writeAuthorizedKeys(acct, { dirMode: 0o700, fileMode: 0o600, text: 'ssh-ed25519 AAAA k\n' });
  assert.equal(statSync(join(acct.home, '.ssh')).mode & 0o777, 0o700);
  assert.equal(statSync(before.path).mode & 0o777, 0o600);
  assert.equal(readFileSync(before.path, 'utf8'), 'ssh-ed25519 AAAA k\n');
  await accounts.writeAuthorizedKeys(acct, before);
  assert.ok(!existsSync(join(acct.home, '.ssh')));
  rmSync(acct.home, { recursive: true });
});

test('authorized_keys: an existing file and its modes come back on undo; a FIFO is a conflict', async () => {
  const acct = home();
  mkdirSync(join(acct.home, '.ssh'), { mode: 0o755 });
  const path = join(acct.home, '.ssh/authorized_keys');
  writeFileSync(path, 'old\n', { mode: 0o644 });
  const before = await accounts.readAuthorizedKeys(acct);
  assert.deepEqual(before, { path, dirMode: 0o755, fileMode: 0o644, text: 'old\n' });
  await accounts.writeAuthorizedKeys(acct, { dirMode: 0o700, fileMode: 0o600, text: 'old\nnew\n' });
  await accounts.writeAuthorizedKeys(acct, before);
  assert.deepEqual(await accounts.readAuthorizedKeys(acct), before);
  rmSync(path);
  execFileSync('mkfifo', [path]);
  await assert.rejects(accounts.readAuthorizedKeys(acct), /a FIFO, not a regular file; fix it by hand, then rerun/);
  rmSync(acct.home, { recursive: true });
});
