// The sign-in store: hashed at rest, 0600, atomic, expiring, surviving a restart, bounded per account.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredentialStore, hashSecret, MAX_PER_ACCOUNT } from './credential-store.ts';
import { parseAccountFiles } from './account-db.ts';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-cred-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const alice = { user: 'alice', uid: 1001 };

test('secrets are kept only as hashes, in a 0600 file, and survive a new store (a restart)', () => {
  withDir((dir) => {
    const file = join(dir, 'credentials.json');
    const a = new CredentialStore({ file });
    const { secret } = a.issue('token', alice, 3600);
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes(secret), 'the secret itself is not stored');
    assert.ok(text.includes(hashSecret(secret)));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['credentials.json'], 'no temporary file left behind');
    const b = new CredentialStore({ file });
    assert.equal(b.find(secret, ['token'])?.user, 'alice');
    assert.equal(b.find(secret, ['session']), undefined, 'a token is not a session');
  });
});

test('expired credentials are refused and pruned at load', () => {
  withDir((dir) => {
    const file = join(dir, 'credentials.json');
    let now = new Date('2026-01-01T00:00:00Z');
    const a = new CredentialStore({ file, now: () => now });
    const { secret } = a.issue('session', alice, 60);
    now = new Date('2026-01-01T00:01:01Z');
    const b = new CredentialStore({ file, now: () => now });
    assert.equal(b.find(secret, ['session']), undefined);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).credentials.length, 0);
  });
});

test('a loose or damaged store is refused, not trusted', () => {
  withDir((dir) => {
    const file = join(dir, 'credentials.json');
    writeFileSync(file, '{"version":1,"credentials":[]}', { mode: 0o644 });
    assert.throws(() => new CredentialStore({ file }), /mode 0600/);
    rmSync(file);
    writeFileSync(file, '{"version":1,"credentials":[{"hash":"zz"}]}', { mode: 0o600 });
    assert.throws(() => new CredentialStore({ file }), /damaged/);
  });
});

test('one account holds at most MAX_PER_ACCOUNT credentials: the oldest go', () => {
  let t = 0;
  const store = new CredentialStore({ now: () => new Date(1_800_000_000_000 + t++ * 1000) });
  const first = store.issue('token', alice, 3600).secret;
  for (let i = 0; i < MAX_PER_ACCOUNT; i++) store.issue('token', alice, 3600);
  assert.equal(store.count().token, MAX_PER_ACCOUNT);
  assert.equal(store.find(first, ['token']), undefined);
  store.issue('token', { user: 'bob', uid: 1002 }, 3600);
  assert.equal(store.count().token, MAX_PER_ACCOUNT + 1, "bob's do not push out alice's");
  assert.equal(store.revokeUid(1001), MAX_PER_ACCOUNT);
});

test('a one-time link is consumed once', () => {
  const store = new CredentialStore();
  const { secret } = store.issue('login', alice, 60);
  assert.equal(store.consumeLogin(secret)?.uid, 1001);
  assert.equal(store.consumeLogin(secret), undefined);
});

test('the account database: primary group first, then the groups listing the user', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/bash\nbad line\n';
  const group = 'root:x:0:\nalice:x:1001:\nvm-users:x:990:bob,alice\nwheel:x:10:carol\n';
  const db = parseAccountFiles(passwd, group);
  assert.deepEqual(db.get(1001), { user: 'alice', uid: 1001, gid: 1001, groups: ['alice', 'vm-users'] });
  assert.deepEqual(db.get(0)?.groups, ['root']);
  assert.equal(db.size, 2);
});
