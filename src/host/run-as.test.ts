import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, runAs, setprivArgv } from './run-as.ts';
import type { Runner } from './runner.ts';

test('run as: setpriv sets uid, gid and every supplementary group before the command', async () => {
  const seen: string[][] = [];
  const run: Runner = (argv) => {
    seen.push(argv);
    return Promise.resolve({ code: 0, stdout: '', stderr: '' });
  };
  await runAs(run, { uid: 1001, gid: 1001, groups: ['alice', 'vm-users'] })(['virsh', 'list']);
  assert.deepEqual(seen[0], ['setpriv', '--reuid=1001', '--regid=1001', '--groups=alice,vm-users', '--', 'virsh', 'list']);
  // no groups: none are kept from the process (root's would otherwise stay)
  assert.deepEqual(setprivArgv({ uid: 5, gid: 6, groups: [] }), ['setpriv', '--reuid=5', '--regid=6', '--clear-groups', '--']);
});

test('run as: a group name that could smuggle another one, or a bad id, is refused', () => {
  assert.throws(() => setprivArgv({ uid: 1, gid: 1, groups: ['vm-users,wheel'] }), /bad group name/);
  assert.throws(() => setprivArgv({ uid: 1, gid: 1, groups: ['-x'] }), /bad group name/);
  assert.throws(() => setprivArgv({ uid: -1, gid: 1, groups: [] }), /bad uid/);
  assert.throws(() => setprivArgv({ uid: 1.5, gid: 1, groups: [] }), /bad uid/);
});

test('open as: a long-lived child (a console) runs through the same setpriv prefix', () => {
  const seen: string[][] = [];
  const open = openAs((argv) => {
    seen.push(argv);
    return { stream: undefined as never, exited: Promise.resolve({ code: 0, stderr: '' }) };
  }, { uid: 1001, gid: 1001, groups: ['vm-users'] });
  open(['script', '--quiet']);
  assert.deepEqual(seen[0], ['setpriv', '--reuid=1001', '--regid=1001', '--groups=vm-users', '--', 'script', '--quiet']);
});
