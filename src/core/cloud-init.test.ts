import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { RaptorError } from './errors.ts';
import { mergeCloudConfig, parseUserData, seedFiles, type SeedRequest } from './cloud-init.ts';

const req: SeedRequest = {
  instanceId: '6f1c7e2a-3b4d-4e5f-8a6b-7c8d9e0f1a2b',
  hostname: 'alice-web',
  user: 'alice',
  sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHg9ZmI7D5cQ0wO7n5g8bW2e0qj1yLJwTn2q1W9f0aA1 alice@laptop'],
  console: 'virtio',
};
const badInput = (e: unknown) => e instanceof RaptorError && e.kind === 'bad-input';

test('meta-data: the domain UUID as instance-id, {user}-{name} as hostname', () => {
  assert.deepEqual(parse(seedFiles(req).metaData), { 'instance-id': req.instanceId, 'local-hostname': 'alice-web' });
});

test("user-data: the owner's account with the keys, the VirtIO console on now and at every boot", () => {
  const { userData } = seedFiles(req);
  assert.ok(userData.startsWith('#cloud-config\n'));
  const doc = parse(userData) as Record<string, unknown>;
  const users = doc.users as Record<string, unknown>[];
  assert.equal(users.length, 1);
  assert.equal(users[0]!.name, 'alice');
  assert.deepEqual(users[0]!.ssh_authorized_keys, req.sshKeys);
  assert.equal(users[0]!.lock_passwd, true);
  assert.deepEqual(doc.bootcmd, [['modprobe', 'virtio_console']]);
  const files = doc.write_files as { path: string; content: string }[];
  assert.equal(files.find((f) => f.path === '/etc/modules-load.d/raptor-virtio-console.conf')?.content, 'virtio_console\n');
  assert.match(files.find((f) => f.path.startsWith('/etc/default/grub.d/'))!.content, /GRUB_CMDLINE_LINUX="\$GRUB_CMDLINE_LINUX console=hvc0"/);
  const runcmd = doc.runcmd as string[][];
  assert.deepEqual(runcmd.slice(0, 2), [['systemctl', '--no-reload', 'enable', 'serial-getty@hvc0.service'], ['systemctl', 'start', '--no-block', 'serial-getty@hvc0.service']]);
  assert.match(runcmd[2]!.join(' '), /update-grub/);
  // the key line stays one line (no YAML folding)
  assert.ok(userData.split('\n').some((l) => l.includes(req.sshKeys[0]!)));
});

test('a serial console gets a getty on ttyS0 and console=ttyS0, no virtio module', () => {
  const doc = parse(seedFiles({ ...req, console: 'serial', sshKeys: [] }).userData) as Record<string, unknown>;
  assert.equal(doc.bootcmd, undefined);
  assert.equal((doc.users as Record<string, unknown>[])[0]!.ssh_authorized_keys, undefined);
  assert.deepEqual((doc.runcmd as string[][])[0], ['systemctl', '--no-reload', 'enable', 'serial-getty@ttyS0.service']);
});

test("an admin's cloud-config merges: lists appended after raptor's, mappings key by key, scalars theirs", () => {
  const extra = parseUserData('#cloud-config\npackages: [htop]\nusers:\n  - name: ops\nruncmd:\n  - [touch, /x]\nssh_pwauth: true\n', 'f');
  const doc = parse(seedFiles(req, extra).userData) as Record<string, unknown>;
  assert.deepEqual((doc.users as { name: string }[]).map((u) => u.name), ['alice', 'ops']);
  assert.deepEqual((doc.runcmd as string[][]).at(-1), ['touch', '/x']);
  assert.equal((doc.runcmd as string[][]).length, 4);
  assert.deepEqual(doc.packages, ['htop']);
  assert.equal(doc.ssh_pwauth, true);
  assert.deepEqual(mergeCloudConfig({ a: { b: 1, c: [1] } }, { a: { c: [2], d: 3 } }), { a: { b: 1, c: [1, 2], d: 3 } });
});

test('user-data that is not a YAML mapping of cloud-config is bad input', () => {
  assert.throws(() => parseUserData('#cloud-config\nusers: [\n', 'f'), (e: unknown) => badInput(e) && /not valid YAML/.test((e as Error).message));
  assert.throws(() => parseUserData('a: 1\na: 2\n', 'f'), badInput);
  assert.throws(() => parseUserData('- a\n- b\n', 'f'), (e: unknown) => badInput(e) && /mapping/.test((e as Error).message));
  assert.throws(() => parseUserData('#!/bin/sh\necho hi\n', 'f'), (e: unknown) => badInput(e) && /only #cloud-config/.test((e as Error).message));
  assert.throws(() => parseUserData(`x: "${'a'.repeat(300 * 1024)}"`, 'f'), badInput);
  assert.deepEqual(parseUserData('#cloud-config\n', 'f'), {});
});
