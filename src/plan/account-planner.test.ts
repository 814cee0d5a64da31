// The pure account planners: refusals in order, steps with their why, an empty plan when done.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRaptorError } from '../core/errors.ts';
import { DEFAULT_UID_RANGE } from '../access/login-defs.ts';
import { planAccount, planAccountRemove, planHostInit, type AccountObservation } from './account-planner.ts';
import { stepCommands, stepTitle } from './steps.ts';

const empty = { version: 1 as const, accounts: [] };
const req = { group: 'vm-users', recordPath: '/var/lib/raptor/accounts.json', keys: [], addExisting: false, by: 'admin', at: '2026-12-02T00:00:00Z' };
const obs = (o: Partial<AccountObservation> = {}): AccountObservation => ({ user: 'ann', groups: [], userGroupExists: true, record: empty, uidRange: DEFAULT_UID_RANGE, ...o });

test('planAccount: a group named like the missing account is a conflict; a new account says where its home goes', () => {
  const err = (() => {
    try {
      planAccount(obs({ sameNameGroup: { name: 'ann', gid: 1234, members: [] } }), req);
    } catch (e) {
      return e;
    }
  })();
  assert.ok(isRaptorError(err, 'conflict'));
  assert.match(err.message, /a group ann \(gid 1234\) exists, so useradd would refuse/);
  const plan = planAccount(obs({ newHome: { path: '/home/ann', exists: false } }), req);
  assert.deepEqual(plan.steps.map((s) => s.kind), ['account-create']);
  assert.match(stepTitle(plan.steps[0]!), /^create account ann \(home directory, bash\) in vm-users/);
  assert.deepEqual(stepCommands(plan.steps[0]!, 'qemu:///system')[0], 'useradd --create-home --shell /bin/bash --groups vm-users -- ann');
});

test('planAccountRemove: not found, system, outside the group, VMs, not recorded — in that order', () => {
  const rq = { group: 'vm-users', recordPath: '/r.json', recordName: '/r.json', purge: false, declarative: false };
  const acct = { name: 'ann', uid: 1500, gid: 1500, home: '/home/ann', shell: '/bin/bash' };
  const base = { user: 'ann', groups: ['vm-users'], vms: [], record: empty, uidRange: DEFAULT_UID_RANGE };
  const kind = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return isRaptorError(e) ? e.kind : 'other';
    }
    return 'ok';
  };
  assert.equal(kind(() => planAccountRemove(base, rq)), 'not-found');
  assert.equal(kind(() => planAccountRemove({ ...base, account: { ...acct, uid: 999 } }, rq)), 'not-allowed');
  assert.equal(kind(() => planAccountRemove({ ...base, account: acct, groups: [] }, rq)), 'not-allowed');
  assert.equal(kind(() => planAccountRemove({ ...base, account: acct, vms: ['ann-x'] }, rq)), 'conflict');
  assert.equal(kind(() => planAccountRemove({ ...base, account: acct }, rq)), 'not-allowed');
  const recorded = { version: 1 as const, accounts: [{ user: 'ann', uid: 1500, how: 'created' as const, at: 'then', by: 'admin' }] };
  const { steps } = planAccountRemove({ ...base, account: acct, record: recorded }, { ...rq, purge: true });
  assert.deepEqual(steps.map((s) => [s.kind, 'purge' in s && s.purge]), [['account-remove', true]]);
  // the same uid only: a recreated account of the same name is not the one raptor made
  assert.equal(kind(() => planAccountRemove({ ...base, account: { ...acct, uid: 1501 }, record: recorded }, rq)), 'not-allowed');
});

test('planHostInit: "nop" gives way to polkit, the mode is kept; a set-up host plans nothing', () => {
  const rules = '// rules\n';
  const init = planHostInit(
    { userGroupExists: true, adminGroups: ['libvirt'], rules: { path: '/p', shown: '/p', current: rules }, confs: [{ path: '/c', shown: '/c', text: 'access_drivers = [ "nop" ]\n', mode: 0o600 }] },
    { userGroup: 'vm-users', adminGroups: ['libvirt'], rules },
  );
  assert.equal(init.steps.length, 1);
  const s = init.steps[0]!;
  assert.ok(s.kind === 'host-file-write');
  assert.equal(s.text, 'access_drivers = [ "polkit" ]\n');
  assert.equal(s.mode, 0o600);
  assert.match(s.why, /in \/c, access_drivers is \[nop\]: without the polkit driver/);
  assert.deepEqual(init.changedConfs, ['/c']);
  const done = planHostInit(
    { userGroupExists: true, adminGroups: [], rules: { path: '/p', shown: '/p', current: rules }, confs: [{ path: '/c', shown: '/c', text: s.text }] },
    { userGroup: 'vm-users', adminGroups: ['libvirt'], rules },
  );
  assert.deepEqual(done.steps, []);
  assert.ok(done.items.every((i) => i.ok));
});
