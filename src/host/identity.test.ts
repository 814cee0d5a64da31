import { test } from 'node:test';
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { actorFromProcess, actorForUser } from './identity.ts';
import type { Runner } from './runner.ts';

const fakeId: Runner = (argv) => {
  const [, flag, , user] = argv;
  if (user === 'nobodyhere') return Promise.resolve({ code: 1, stdout: '', stderr: 'no such user' });
  const out = flag === '-Gn' ? 'alice vm-users\n' : flag === '-u' ? '1001\n' : '1002\n';
  return Promise.resolve({ code: 0, stdout: out, stderr: '' });
};

test('the process actor: its uid, gid and groups; SUDO_USER names the admin only when the process is root', async () => {
  const a = await actorFromProcess(fakeId, { SUDO_USER: 'zed' });
  assert.equal(a.uid, process.getuid!());
  assert.equal(a.gid, process.getgid!());
  assert.deepEqual(a.groups, ['alice', 'vm-users']);
  assert.equal(a.via, 'cli');
  // an ordinary user cannot pose as someone else by setting SUDO_USER
  assert.equal(a.user, process.getuid!() === 0 ? 'zed' : userInfo().username);
  assert.equal((await actorFromProcess(fakeId, {})).user, userInfo().username);
});

test('the actor of a named account, as a server would make it', async () => {
  assert.deepEqual(await actorForUser(fakeId, 'alice', 'http'), { user: 'alice', uid: 1001, gid: 1002, groups: ['alice', 'vm-users'], via: 'http' });
  await assert.rejects(actorForUser(fakeId, 'nobodyhere', 'http'), /no account nobodyhere/);
  await assert.rejects(actorForUser(fakeId, '-rf', 'http'), /invalid|user/i);
});
