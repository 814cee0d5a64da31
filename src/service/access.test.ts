// The account and host-init service functions on in-memory fakes: plans, refusals that change
// nothing, idempotence, and undo of a failure halfway. No root, no host change, milliseconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../core/config.ts';
import { isRaptorError } from '../core/errors.ts';
import { runCommand, type Runner } from '../host/runner.ts';
import { FakeHypervisor } from '../libvirt/fake-hypervisor.ts';
import { FakeVolumes } from '../storage/fake-volumes.ts';
import { createContext, createVm, planVmCreate } from './vm.ts';
import { FakeAccounts } from '../access/accounts-fake.ts';
import { FakeHostFiles } from '../host/host-files-fake.ts';
import { parsePublicKey } from '../access/ssh-keys.ts';
import { renderPolkitRules } from '../access/polkit-rules.ts';
import { addUser, hostInit, removeUser, type AccessContext } from './access.ts';
import { withAccountSteps } from './vm-account.ts';
import type { AccountChange } from './account-plan.ts';
import type { CreatePlan } from '../plan/planner.ts';
import type { Step } from '../plan/steps.ts';

const KEY = parsePublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZ/H9cmNpoCbawjwCGpCKyA3ZGaCJaoYqimsfv2EnwG alice@laptop');
const KEY2 = parsePublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH bob@desk');

function fakeCtx(vms: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-svc-'));
  // no DNS, no reserved CPUs, scratch paths: vm create runs on the fakes too
  const config = parseConfigText(
    [`lock_file = "${dir}/lock"`, `audit_log = "${dir}/audit.jsonl"`, `nvram_dir = "${dir}/nvram"`, `seed_dir = "${dir}/seeds"`, 'domain_type = "qemu"', '[cpus]', 'reserved = ""', '[dns]', 'enabled = false', '[[bridges]]', 'name = "br-vm1"'].join('\n'),
    'test',
  );
  // only the host lock's flock may run: every account and file change goes through the fakes
  const run: Runner = async (argv, opts) => {
    if (argv[0] === 'flock') return runCommand(argv, opts);
    throw new Error(`unexpected process: ${argv.join(' ')}`);
  };
  const accounts = new FakeAccounts();
  accounts.addGroup('vm-users', 1500);
  const files = new FakeHostFiles();
  files.put('/etc/login.defs', 'UID_MIN 1000\nUID_MAX 60000\n');
  files.put('/etc/libvirt/libvirtd.conf', '#access_drivers = [ "polkit" ]\n', 0o640);
  files.put('/etc/libvirt/virtqemud.conf', '');
  const hv = new FakeHypervisor();
  for (const name of vms) hv.add(`<domain type="qemu"><name>${name}</name></domain>`);
  const volumes = new FakeVolumes(config.storage.vg, 10 * 1024 ** 3);
  const actor = { user: 'root', uid: 0, gid: 0, groups: ['root'], via: 'cli' as const };
  const ctx: AccessContext = createContext(config, 'test', actor, run, { hv, volumes, accounts, files, privileged: true });
  const audit = (): { result: string; plan: string[] }[] => {
    try {
      return readFileSync(config.audit_log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { result: string; plan: string[] });
    } catch {
      return [];
    }
  };
  return { ctx, accounts, files, hv, volumes, audit, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const kinds = (steps: Step[]) => steps.map((s) => s.kind);

test('user add: a new account is created in the group, recorded, and gets its keys', async () => {
  const { ctx, accounts, audit, done } = fakeCtx();
  const r = await addUser(ctx, 'alice', [KEY]);
  assert.deepEqual(kinds(r.plan), ['account-create', 'keys-install']);
  assert.equal(r.accountCreated, true);
  assert.equal(r.changed, true);
  assert.deepEqual((await accounts.groupsOf('alice')).sort(), ['alice', 'vm-users']);
  assert.deepEqual(accounts.record.accounts.map((e) => [e.user, e.how, e.uid]), [['alice', 'created', accounts.users.get('alice')!.uid]]);
  assert.equal(accounts.keyFiles.get('/home/alice/.ssh/authorized_keys')?.text, `${KEY.type} ${KEY.base64} alice@laptop\n`);
  assert.equal(r.authorizedKeys, '/home/alice/.ssh/authorized_keys');
  assert.deepEqual(audit().map((a) => a.result), ['ok']);
  // a second run plans nothing: the host already has it all
  const again = await addUser(ctx, 'alice', [KEY], { dryRun: true });
  assert.deepEqual(again.plan, []);
  assert.equal(again.changed, false);
  assert.equal(again.keysPresent.length, 1);
  done();
});

test('user add --dry-run: the plan says why each step is needed, and nothing changes', async () => {
  const { ctx, accounts, audit, done } = fakeCtx();
  accounts.groups.delete('vm-users');
  const before = accounts.snapshot();
  const r = await addUser(ctx, 'alice', [KEY, KEY2], { dryRun: true });
  assert.deepEqual(kinds(r.plan), ['group-create', 'account-create', 'keys-install']);
  assert.ok(r.plan.every((s) => 'why' in s && s.why.length > 0));
  assert.equal(r.keysAdded.length, 2);
  assert.equal(accounts.snapshot(), before);
  assert.deepEqual(accounts.calls, []);
  assert.deepEqual(audit(), []);
  done();
});

test('user add: an existing account outside the group is refused without --add-existing, and nothing changes', async () => {
  const { ctx, accounts, done } = fakeCtx();
  accounts.addUser('hank', { uid: 1200 });
  const before = accounts.snapshot();
  for (const dryRun of [false, true]) {
    const err = await addUser(ctx, 'hank', [KEY], { dryRun }).catch((e: unknown) => e);
    assert.ok(isRaptorError(err, 'not-allowed'), String(err));
    assert.match(err.message, /hank is an existing account \(uid 1200\) outside vm-users; .* pass --add-existing/);
  }
  assert.equal(accounts.snapshot(), before);
  assert.deepEqual(accounts.calls, []);
  // with --add-existing: the record says "added", the account joins the group
  const r = await addUser(ctx, 'hank', [], { addExisting: true });
  assert.deepEqual(kinds(r.plan), ['group-add-member']);
  assert.ok((await accounts.groupsOf('hank')).includes('vm-users'));
  assert.equal(accounts.record.accounts[0]?.how, 'added');
  done();
});

test('user add: system accounts by login.defs are refused before any change', async () => {
  const { ctx, accounts, files, done } = fakeCtx();
  files.put('/etc/login.defs', 'UID_MIN 2000\nUID_MAX 3000\n');
  accounts.addUser('carl', { uid: 1500, groups: ['vm-users'] });
  const before = accounts.snapshot();
  await assert.rejects(addUser(ctx, 'carl', [KEY]), /carl is a system account \(uid 1500; ordinary accounts here are uids 2000-3000 per \/etc\/login.defs/);
  await assert.rejects(removeUser(ctx, 'carl'), /carl is a system account/);
  assert.equal(accounts.snapshot(), before);
  done();
});

test('user add: an existing account gets only the new key, and its loose modes fixed', async () => {
  const { ctx, accounts, done } = fakeCtx();
  accounts.addUser('erin', { groups: ['vm-users'] });
  const path = '/home/erin/.ssh/authorized_keys';
  accounts.keyFiles.set(path, { path, dirMode: 0o755, fileMode: 0o644, text: `${KEY.type} ${KEY.base64} old\n` });
  const r = await addUser(ctx, 'erin', [KEY, KEY2]);
  assert.deepEqual(kinds(r.plan), ['keys-install']);
  assert.deepEqual(r.keysAdded.map((k) => k.comment), ['bob@desk']);
  assert.deepEqual(r.modesFixed, ['/home/erin/.ssh 0755 -> 0700', `${path} 0644 -> 0600`]);
  assert.deepEqual(accounts.keyFiles.get(path), { path, dirMode: 0o700, fileMode: 0o600, text: `${KEY.type} ${KEY.base64} old\n${KEY2.type} ${KEY2.base64} bob@desk\n` });
  done();
});

test('user add: a failure in the key step undoes the account and its record', async () => {
  const { ctx, accounts, audit, done } = fakeCtx();
  accounts.groups.delete('vm-users');
  const before = accounts.snapshot();
  accounts.failOn = 'writeAuthorizedKeys';
  const err = await addUser(ctx, 'alice', [KEY]).catch((e: unknown) => e);
  assert.ok(isRaptorError(err, 'unexpected'));
  assert.match(err.message, /injected failure: writeAuthorizedKeys \(finished steps were undone\)/);
  assert.deepEqual(accounts.calls, ['groupadd vm-users', 'useradd alice', 'write record', 'userdel --remove alice', 'write record', 'groupdel vm-users']);
  assert.equal(accounts.snapshot(), before);
  assert.deepEqual(audit().map((a) => a.result), ['undone']);
  done();
});

test('user add: a home directory that was there before is kept when the account is undone', async () => {
  const { ctx, accounts, files, done } = fakeCtx();
  files.put('/etc/default/useradd', 'SHELL=/bin/sh\nHOME=/srv/home\n');
  files.put('/srv/home/alice/notes', 'mine\n');
  accounts.failOn = 'writeAuthorizedKeys';
  const dry = await addUser(ctx, 'alice', [KEY], { dryRun: true });
  assert.match(dry.plan[0]!.kind === 'account-create' ? dry.plan[0].why : '', /\/srv\/home\/alice exists already/);
  await assert.rejects(addUser(ctx, 'alice', [KEY]), /finished steps were undone/);
  assert.ok(accounts.calls.includes('userdel alice'), accounts.calls.join(', '));
  assert.ok(!accounts.calls.includes('userdel --remove alice'));
  assert.equal(accounts.users.get('alice'), undefined);
  done();
});

test('user remove: only an account raptor created, only without VMs; the record forgets it', async () => {
  const { ctx, accounts, done } = fakeCtx(['alice-web']);
  await addUser(ctx, 'alice', []);
  const made = accounts.snapshot();
  await assert.rejects(removeUser(ctx, 'alice'), (e: unknown) => isRaptorError(e, 'conflict') && /alice still owns alice-web/.test(e.message));
  assert.equal(accounts.snapshot(), made);
  const free = fakeCtx();
  Object.assign(free.ctx, { accounts });
  const dry = await removeUser(free.ctx, 'alice', { dryRun: true, purge: true });
  assert.deepEqual(kinds(dry.plan), ['account-remove']);
  assert.equal(accounts.snapshot(), made);
  const r = await removeUser(free.ctx, 'alice', { purge: true });
  assert.equal(r.removed, true);
  assert.equal(accounts.users.get('alice'), undefined);
  assert.deepEqual(accounts.record.accounts, []);
  // in the group by hand, never recorded: not raptor's to delete
  accounts.addUser('jack', { groups: ['vm-users'] });
  await assert.rejects(removeUser(free.ctx, 'jack'), /raptor did not create jack .* so it will not delete it/);
  await assert.rejects(removeUser(free.ctx, 'nobodyhere'), (e: unknown) => isRaptorError(e, 'not-found'));
  done();
  free.done();
});

test('host init: the first plan writes rules and configs, the second plan is empty', async () => {
  const { ctx, accounts, files, audit, done } = fakeCtx();
  accounts.groups.delete('vm-users');
  const dry = await hostInit(ctx, { dryRun: true });
  assert.deepEqual(kinds(dry.plan), ['group-create', 'host-file-write', 'host-file-write', 'host-file-write']);
  assert.deepEqual(files.writes, []);
  const first = await hostInit(ctx);
  assert.equal(first.changed, true);
  assert.equal(first.restartNeeded, true);
  assert.equal(await files.read('/etc/polkit-1/rules.d/60-raptor.rules'), renderPolkitRules(ctx.config.access));
  assert.equal((await files.stat('/etc/libvirt/libvirtd.conf'))?.mode, 0o640, 'mode kept');
  assert.match((await files.read('/etc/libvirt/virtqemud.conf'))!, /^access_drivers = \[ "polkit" \]$/m);
  const writes = files.writes.length;
  const second = await hostInit(ctx);
  assert.deepEqual(second.plan, []);
  assert.equal(second.changed, false);
  assert.equal(second.restartNeeded, false);
  assert.equal(files.writes.length, writes, 'the second run writes nothing');
  assert.deepEqual(audit().map((a) => a.result), ['ok', 'ok']);
  done();
});

test('host init: a failing write undoes the rules, the other config and the group', async () => {
  const { ctx, accounts, files, done } = fakeCtx();
  accounts.groups.delete('vm-users');
  const before = files.snapshot();
  const groups = [...accounts.groups.keys()];
  files.failOnWrite = '/etc/libvirt/virtqemud.conf';
  await assert.rejects(hostInit(ctx), /injected failure: write \/etc\/libvirt\/virtqemud.conf \(finished steps were undone\)/);
  assert.equal(files.snapshot().replace(/"mtimeMs":\d+/g, ''), before.replace(/"mtimeMs":\d+/g, ''));
  assert.deepEqual([...accounts.groups.keys()], groups);
  done();
});

test('vm create: the account steps come after the VM is defined, before it starts', () => {
  const plan = { steps: [{ kind: 'lv-create' }, { kind: 'domain-define' }, { kind: 'domain-start' }, { kind: 'lv-untag' }] } as unknown as CreatePlan;
  const account = { steps: [{ kind: 'account-create' }, { kind: 'keys-install' }], result: {} } as unknown as AccountChange;
  assert.deepEqual(kinds(withAccountSteps(plan, account).steps), ['lv-create', 'domain-define', 'account-create', 'keys-install', 'domain-start', 'lv-untag']);
  const unstarted = { steps: [{ kind: 'lv-create' }, { kind: 'lv-untag' }] } as unknown as CreatePlan;
  assert.deepEqual(kinds(withAccountSteps(unstarted, account).steps), ['lv-create', 'lv-untag', 'account-create', 'keys-install']);
});

test('vm create --ssh-key: the dry-run plan holds the account steps; a failing key step undoes the account and the VM', async () => {
  const { ctx, accounts, hv, volumes, audit, done } = fakeCtx();
  const req = { vm: { user: 'alice', name: 'web' }, cpus: 1, memoryBytes: 512 * 2 ** 20, diskBytes: 2 ** 30, start: true, account: { keys: [KEY], addExisting: false } };
  const dry = await planVmCreate(ctx, req);
  assert.deepEqual(kinds(dry.steps), ['lv-create', 'domain-define', 'account-create', 'keys-install', 'domain-start', 'lv-untag']);
  assert.equal(dry.account?.result.accountCreated, true);
  assert.equal(dry.account?.result.dryRun, true);
  assert.deepEqual(accounts.calls, []);
  accounts.failOn = 'writeAuthorizedKeys';
  await assert.rejects(createVm(ctx, req), /injected failure: writeAuthorizedKeys \(finished steps were undone\)/);
  assert.equal(accounts.users.get('alice'), undefined);
  assert.deepEqual(accounts.record.accounts, []);
  assert.equal(hv.domains.size, 0, 'the domain was undefined again');
  assert.equal(volumes.lvMap.size, 0, 'the volume was removed again');
  assert.deepEqual(audit().map((a) => a.result), ['undone']);
  // without the failure: the account is made with the VM, before it starts
  accounts.failOn = undefined;
  const { plan, reports } = await createVm(ctx, req);
  assert.equal(plan.account?.result.dryRun, false);
  assert.ok(reports.every((r) => r.status === 'done'));
  assert.equal(accounts.keyFiles.get('/home/alice/.ssh/authorized_keys')?.text, `${KEY.type} ${KEY.base64} alice@laptop\n`);
  assert.equal(hv.domains.get('alice-web')?.state, 'running');
  done();
});
