import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allows, PERMISSIONS, RAPTOR_ACTIONS, roleOf, ROLES, type Role } from './permissions.ts';
import { renderPolkitRules } from './polkit-rules.ts';
import { loadPolkitRules, type PolkitSubject } from './polkit-eval.ts';
import { authorize } from '../service/authorize.ts';
import { resolveConfig } from '../core/config.ts';
import type { Context } from '../service/vm.ts';
import { RaptorError } from '../core/errors.ts';

const ACCESS = { admin_groups: ['libvirt', 'libvirtd', 'wheel'], user_group: 'vm-users' };
const decide = loadPolkitRules(renderPolkitRules(ACCESS));

/** One caller and one domain per role, as the rules and roleOf see them. */
const CASES: Record<Role, { subject: PolkitSubject & { uid: number }; domain: string }[]> = {
  admin: [
    { subject: { user: 'root', uid: 0, groups: ['root'] }, domain: 'alice-a' },
    { subject: { user: 'carol', uid: 1003, groups: ['carol', 'wheel'] }, domain: 'alice-a' },
    { subject: { user: 'nix', uid: 1005, groups: ['nix', 'libvirtd'] }, domain: 'nix-a' },
  ],
  owner: [{ subject: { user: 'alice', uid: 1001, groups: ['alice', 'vm-users'] }, domain: 'alice-a' }],
  'other-user': [
    { subject: { user: 'alice', uid: 1001, groups: ['alice', 'vm-users'] }, domain: 'bob-b' },
    // user names hold no "-": alice is no prefix of alicex-… or bob-alice-…
    { subject: { user: 'alice', uid: 1001, groups: ['alice', 'vm-users'] }, domain: 'alicex-a' },
    { subject: { user: 'alice', uid: 1001, groups: ['alice', 'vm-users'] }, domain: 'bob-alice-a' },
  ],
  outsider: [
    { subject: { user: 'dave', uid: 1004, groups: ['dave'] }, domain: 'dave-a' },
    { subject: { user: 'dave', uid: 1004, groups: ['dave'] }, domain: 'alice-a' },
  ],
};

test('roleOf gives each case the role it stands for', () => {
  for (const role of ROLES) for (const c of CASES[role]) assert.equal(roleOf(c.subject, ACCESS, c.domain), role, `${c.subject.user} on ${c.domain}`);
});

test('the rendered rules agree with the table for every role and every libvirt action it names', () => {
  let cells = 0;
  for (const p of PERMISSIONS.filter((x) => x.kind !== 'raptor')) {
    for (const role of ROLES) {
      for (const c of CASES[role]) {
        const want = allows(role, p.action) ? 'yes' : 'no';
        assert.equal(decide(c.subject, p.action, p.kind === 'libvirt-domain' ? c.domain : undefined), want, `${role} ${c.subject.user} ${p.action} ${c.domain}`);
        cells++;
      }
    }
  }
  assert.ok(cells > 300, `${cells} cells`);
});

test('libvirt actions the table does not name are admins\' in both; raptor\'s own are not polkit\'s', () => {
  for (const id of ['org.libvirt.api.network.read', 'org.libvirt.api.storage-vol.data-read', 'org.libvirt.api.secret.read-secure']) {
    for (const role of ROLES) for (const c of CASES[role]) assert.equal(decide(c.subject, id), allows(role, id) ? 'yes' : 'no', `${role} ${id}`);
    assert.equal(allows('admin', id), true);
  }
  for (const a of RAPTOR_ACTIONS) for (const role of ROLES) for (const c of CASES[role]) assert.equal(decide(c.subject, a, c.domain), 'not handled');
  assert.throws(() => allows('admin', 'vm explode'), /no such action/);
});

const ctxFor = (actor: PolkitSubject & { uid: number }): Context =>
  ({ config: resolveConfig({}), actor: { ...actor, gid: actor.uid, via: 'http' }, privileged: process.getuid?.() === 0 }) as unknown as Context;

test('authorize agrees with the table for every role and raptor action (exit 5 and today\'s text when refused)', () => {
  const root = process.getuid?.() === 0;
  for (const action of RAPTOR_ACTIONS) {
    for (const role of ROLES) {
      for (const c of CASES[role]) {
        let err: unknown;
        try {
          authorize(ctxFor(c.subject), action, c.domain);
        } catch (e) {
          err = e;
        }
        if (!allows(role, action)) {
          assert.ok(err instanceof RaptorError && err.kind === 'not-allowed', `${role} ${action}`);
          assert.match(err.message, new RegExp(`^raptor ${action} needs an admin \\(root or a member of libvirt/libvirtd/wheel\\); vm-users may only`));
        } else if (root) {
          assert.equal(err, undefined, `${role} ${action}`);
        } else {
          // an admin, but only a process running as root changes volumes, accounts and system files
          assert.ok(err instanceof RaptorError && err.kind === 'not-allowed');
          assert.match(err.message, new RegExp(`run it as root \\(sudo raptor ${action}\\)`));
        }
      }
    }
  }
  // the table gives raptor's actions to admins alone
  for (const a of RAPTOR_ACTIONS) assert.deepEqual(ROLES.filter((r) => allows(r, a)), ['admin']);
});
