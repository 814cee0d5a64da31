// THE PROOF (issue 5): real accounts, the real polkitd and libvirtd with the polkit access driver,
// and the rules `raptor host init` installs. alice and bob are vm-users, carol is in wheel, dave in
// no group; every cell runs as that user and is checked against the house rules (docs/access.md).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { raptor, loadTestConfig } from './lib/raptor.ts';
import { allows, RAPTOR_ACTIONS, roleOf, type RaptorAction, type Role } from '../../src/access/permissions.ts';
import { renderPolkitRules } from '../../src/access/polkit-rules.ts';
import { loadPolkitRules } from '../../src/access/polkit-eval.ts';
import { actorForUser } from '../../src/host/identity.ts';
import { runCommand } from '../../src/host/runner.ts';
import { createContext } from '../../src/service/vm.ts';
import { actorRun } from '../../src/service/as-actor.ts';
import { listUsers } from '../../src/service/access.ts';
import { listVms, readConsoleLog, startVm, stopVm } from '../../src/service/vm.ts';
import { parseVmId } from '../../src/core/naming.ts';
import { RaptorError } from '../../src/core/errors.ts';
import type { Actor } from '../../src/core/actor.ts';
import {
  accessConfigPath,
  asUser,
  consoleAs,
  defineTinyDomain,
  defineXml,
  domainState,
  ensureBuilt,
  groupExists,
  raptorAs,
  removeAccount,
  removeTinyDomain,
  root,
  rootOk,
  TEST_KEYS,
  URI,
  waitFor,
  type Out,
} from './lib/users.ts';

const USERS = ['alice', 'bob', 'carol', 'dave'] as const;
type User = (typeof USERS)[number];
const DOMAINS = ['alice-a', 'bob-b'];
const INTERACT_OPS = new Set(['list', 'dominfo', 'dumpxml', 'console', 'start', 'shutdown', 'reboot', 'reset', 'destroy']);

type Verdict = 'allowed' | 'denied' | 'error';
// A refused lookup (domain.getattr) shows in virsh only as "failed to get domain X" (libvirtd logs
// "virDomainLookupByNameEnsureACL: access denied"); the domain exists then (bringTo defines it), so
// that message is a denial here, never a missing domain.
const DENIED_RE = /access denied|authentication unavailable|not authorized|Authorization not available|failed to get domain/i;

/** libvirt's reason, for the printed list of denials (the last "error:" line). */
let lastWhy = '';
const judge = (o: Out): Verdict => {
  lastWhy = o.code === 0 ? '' : (o.stderr.split('\n').filter((l) => l.startsWith('error:')).pop() ?? o.stderr.trim()).replace(/\r/g, '');
  return o.code === 0 ? 'allowed' : DENIED_RE.test(o.stderr) ? 'denied' : 'error';
};
const virshAs = (user: string, args: string[]): Out => asUser(user, ['virsh', '-c', URI, ...args]);

interface Op {
  name: string;
  needs: 'running' | 'shut off' | 'any';
  run: (user: User, dom: string) => Promise<Verdict> | Verdict;
  /** put the domain back as it was, as root */
  restore?: (dom: string) => void;
}

const editFile = (user: string, dom: string): string => {
  const path = `/tmp/raptor-mx-${process.pid}-${user}-${dom}.xml`;
  writeFileSync(path, ORIGINAL.get(dom)!.replace(/<\/name>/, `</name>\n  <description>edited by ${user}</description>`), { mode: 0o644 });
  return path;
};

/** The domains' XML as libvirt filled it in (with its uuid), to put them back after an edit. */
const ORIGINAL = new Map<string, string>();
const redefine = (dom: string) => defineXml(ORIGINAL.get(dom)!);

const OPS: Op[] = [
  {
    name: 'list',
    needs: 'any',
    run: (u, d) => {
      const o = virshAs(u, ['list', '--all', '--name']);
      if (o.code !== 0) return judge(o);
      lastWhy = `not in virsh list --all (sees: ${o.stdout.split('\n').map((s) => s.trim()).filter(Boolean).join(', ') || 'nothing'})`;
      return o.stdout.split('\n').map((s) => s.trim()).includes(d) ? 'allowed' : 'denied';
    },
  },
  { name: 'dominfo', needs: 'any', run: (u, d) => judge(virshAs(u, ['dominfo', d])) },
  { name: 'dumpxml', needs: 'any', run: (u, d) => judge(virshAs(u, ['dumpxml', d])) },
  {
    name: 'console',
    needs: 'running',
    run: async (u, d) => {
      const o = await consoleAs(u, d);
      lastWhy = o.stdout.split('\n').filter((l) => l.startsWith('error:')).pop()?.replace(/\r/g, '') ?? '';
      return /Connected to domain/.test(o.stdout) ? 'allowed' : DENIED_RE.test(o.stdout) ? 'denied' : 'error';
    },
  },
  { name: 'start', needs: 'shut off', run: (u, d) => judge(virshAs(u, ['start', d])) },
  { name: 'shutdown', needs: 'running', run: (u, d) => judge(virshAs(u, ['shutdown', d])) },
  { name: 'reboot', needs: 'running', run: (u, d) => judge(virshAs(u, ['reboot', d])) },
  { name: 'reset', needs: 'running', run: (u, d) => judge(virshAs(u, ['reset', d])) },
  { name: 'destroy', needs: 'running', run: (u, d) => judge(virshAs(u, ['destroy', d])) },
  {
    name: 'define/edit',
    needs: 'shut off',
    run: (u, d) => {
      const file = editFile(u, d);
      try {
        return judge(virshAs(u, ['define', file]));
      } finally {
        rmSync(file, { force: true });
      }
    },
    restore: redefine,
  },
  { name: 'setmem', needs: 'shut off', run: (u, d) => judge(virshAs(u, ['setmem', d, '60M', '--config'])), restore: redefine },
  {
    name: 'snapshot-create',
    needs: 'shut off',
    run: (u, d) => judge(virshAs(u, ['snapshot-create-as', d, 'mx-snap'])),
    restore: (d) => void root(['virsh', '-c', URI, 'snapshot-delete', d, 'mx-snap']),
  },
  {
    name: 'undefine',
    needs: 'shut off',
    run: (u, d) => judge(virshAs(u, ['undefine', d])),
    restore: (d) => {
      if (domainState(d) === undefined) redefine(d);
    },
  },
];

const GROUPS: Record<User, string> = { alice: 'vm-users', bob: 'vm-users', carol: 'wheel', dave: 'no group' };

/**
 * The libvirt (polkit) actions each operation needs: the connection, the lookup of the domain
 * (getattr), and the operation's own permission. The table's verdict is "allowed" when it grants
 * every one of them.
 */
const OP_ACTIONS: Record<string, string[]> = {
  list: ['org.libvirt.api.connect.search-domains', 'org.libvirt.api.domain.getattr'],
  dominfo: ['org.libvirt.api.connect.read', 'org.libvirt.api.domain.read'],
  dumpxml: ['org.libvirt.api.domain.read'],
  console: ['org.libvirt.api.domain.open-device'],
  start: ['org.libvirt.api.domain.start'],
  shutdown: ['org.libvirt.api.domain.init-control'],
  reboot: ['org.libvirt.api.domain.init-control'],
  reset: ['org.libvirt.api.domain.reset'],
  destroy: ['org.libvirt.api.domain.stop'],
  'define/edit': ['org.libvirt.api.domain.write', 'org.libvirt.api.domain.save'],
  setmem: ['org.libvirt.api.domain.write', 'org.libvirt.api.domain.save'],
  'snapshot-create': ['org.libvirt.api.domain.snapshot'],
  undefine: ['org.libvirt.api.domain.delete'],
};
const needs = (op: string, socket: 'rw' | 'ro' = 'rw'): string[] => [socket === 'rw' ? 'org.libvirt.unix.manage' : 'org.libvirt.unix.monitor', 'org.libvirt.api.connect.getattr', 'org.libvirt.api.domain.getattr', ...OP_ACTIONS[op]!];

/** Each test user's actor (uid, gid, supplementary groups) from the account database, after before() made them. */
const ACTORS = new Map<User, Actor>();
const ACCESS = { admin_groups: ['libvirt', 'libvirtd', 'wheel'], user_group: 'vm-users' };
const rulesDecide = loadPolkitRules(renderPolkitRules(ACCESS));
const roleFor = (user: User, dom?: string): Role => roleOf(ACTORS.get(user)!, ACCESS, dom);

/** What the permission table says, and what the rendered rules (evaluated as polkitd would) say, for these actions. */
function tableVerdict(user: User, actions: string[], dom?: string): Verdict {
  return actions.every((a) => allows(roleFor(user, dom), a)) ? 'allowed' : 'denied';
}
function rulesVerdict(user: User, actions: string[], dom?: string): Verdict {
  const a = ACTORS.get(user)!;
  return actions.every((id) => rulesDecide({ user: a.user, groups: a.groups }, id, id.startsWith('org.libvirt.api.domain.') ? dom : undefined) === 'yes') ? 'allowed' : 'denied';
}

function expected(user: User, op: string, dom: string): Verdict {
  if (user === 'carol') return 'allowed';
  if (user === 'dave') return 'denied';
  return dom.startsWith(`${user}-`) && INTERACT_OPS.has(op) ? 'allowed' : 'denied';
}

function bringTo(dom: string, state: Op['needs']): void {
  if (domainState(dom) === undefined) redefine(dom);
  const now = domainState(dom);
  if (state === 'running' && now !== 'running') rootOk(['virsh', '-c', URI, 'start', dom]);
  if (state === 'shut off' && now !== 'shut off') rootOk(['virsh', '-c', URI, 'destroy', dom]);
}

describe('access matrix: real users through polkitd and libvirtd', { timeout: 600_000 }, () => {
  let config = '';
  let createdWheel = false;
  let createdUserGroup = false;

  before(async () => {
    ensureBuilt();
    config = accessConfigPath();
    for (const u of USERS) removeAccount(u);
    for (const d of DOMAINS) removeTinyDomain(d);
    createdUserGroup = !groupExists('vm-users');
    const init = await raptor(['host', 'init'], { config });
    assert.equal(init.code, 0, init.stderr);
    if (!groupExists('wheel')) {
      rootOk(['groupadd', 'wheel']);
      createdWheel = true;
    }
    for (const u of ['alice', 'bob'] as const) {
      const r = await raptor(['user', 'add', u, '--ssh-key', TEST_KEYS[u]], { config });
      assert.equal(r.code, 0, r.stderr);
    }
    rootOk(['useradd', '--create-home', '--shell', '/bin/bash', '--groups', 'wheel', 'carol']);
    rootOk(['useradd', '--create-home', '--shell', '/bin/bash', 'dave']);
    for (const d of DOMAINS) {
      defineTinyDomain(d);
      ORIGINAL.set(d, rootOk(['virsh', '-c', URI, 'dumpxml', '--inactive', d]));
    }
    // polkitd notices the new rules file by itself, a moment later
    for (const u of USERS) ACTORS.set(u, await actorForUser(runCommand, u, 'http'));
    await waitFor('the raptor polkit rules to take effect', () => {
      const o = virshAs('alice', ['list', '--all', '--name']);
      const names = o.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
      return o.code === 0 && names.includes('alice-a') && !names.includes('bob-b');
    });
  });

  after(() => {
    for (const d of DOMAINS) removeTinyDomain(d);
    for (const u of USERS) removeAccount(u);
    if (createdWheel) root(['groupdel', 'wheel']);
    if (createdUserGroup) root(['groupdel', 'vm-users']);
    rmSync(config, { force: true });
  });

  test('every cell of user x action x own/other is what the house rules say', async () => {
    const cells: { user: User; dom: string; op: string; got: Verdict; want: Verdict; why: string }[] = [];
    const targets: [User, string][] = [
      ['alice', 'alice-a'],
      ['alice', 'bob-b'],
      ['bob', 'bob-b'],
      ['bob', 'alice-a'],
      ['carol', 'alice-a'],
      ['carol', 'bob-b'],
      ['dave', 'alice-a'],
      ['dave', 'bob-b'],
    ];
    for (const [user, dom] of targets) {
      for (const op of OPS) {
        bringTo(dom, op.needs);
        lastWhy = '';
        assert.notEqual(domainState(dom), undefined, `${dom} must exist before ${user} tries ${op.name}`);
        const got = await op.run(user, dom);
        op.restore?.(dom);
        const want = expected(user, op.name, dom);
        // the permission table and the rules rendered from it say the same as the house rules (and so as libvirt)
        assert.equal(tableVerdict(user, needs(op.name), dom), want, `table: ${user} ${op.name} ${dom}`);
        assert.equal(rulesVerdict(user, needs(op.name), dom), want, `rendered rules: ${user} ${op.name} ${dom}`);
        cells.push({ user, dom, op: op.name, got, want, why: lastWhy });
      }
    }
    // print the matrix: one row per action, one column per (user, domain)
    const col = (u: User, d: string) => `${u}(${GROUPS[u]}) ${d} ${d.startsWith(`${u}-`) ? 'own' : 'other'}`;
    const headers = ['action', ...targets.map(([u, d]) => col(u, d))];
    const rows = OPS.map((op) => [
      op.name,
      ...targets.map(([u, d]) => {
        const c = cells.find((x) => x.user === u && x.dom === d && x.op === op.name)!;
        return `${c.got} ${c.got === c.want ? '✓' : `✗ (want ${c.want})`}`;
      }),
    ]);
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
    const mismatches = cells.filter((c) => c.got !== c.want);
    console.log(`\n${line(headers)}\n${widths.map((w) => '-'.repeat(w)).join('-+-')}\n${rows.map(line).join('\n')}\n`);
    // why each kind of refusal happened, as libvirt said it (one example per user class and action)
    const seen = new Set<string>();
    for (const c of cells.filter((x) => x.got !== 'allowed')) {
      const key = `${GROUPS[c.user]} ${c.dom.startsWith(`${c.user}-`) ? 'own' : 'other'} ${c.op}`;
      if (!seen.has(key)) console.log(`  ${c.user} ${c.op} ${c.dom}: ${c.why}`);
      seen.add(key);
    }
    console.log(`${cells.length} cells, ${mismatches.length} mismatches`);
    assert.deepEqual(mismatches, []);
  });

  test('host objects (issue 9.11): networks, node devices, interfaces, secrets, pools, nwfilters, capabilities', () => {
    // [name, virsh args, what vm-users get]: capabilities is connect.read, which dominfo needs
    const KIND_ACTIONS: Record<string, string> = {
      'net-list': 'org.libvirt.api.connect.search-networks',
      'nodedev-list': 'org.libvirt.api.connect.search-node-devices',
      'iface-list': 'org.libvirt.api.connect.search-interfaces',
      'secret-list': 'org.libvirt.api.connect.search-secrets',
      'pool-list': 'org.libvirt.api.connect.search-storage-pools',
      'nwfilter-list': 'org.libvirt.api.connect.search-nwfilters',
      'nwfilter-binding-list': 'org.libvirt.api.connect.search-nwfilter-bindings',
      capabilities: 'org.libvirt.api.connect.read',
      nodeinfo: 'org.libvirt.api.connect.read',
    };
    const kinds: [string, string[], Verdict][] = [
      ['net-list', ['net-list', '--all'], 'denied'],
      ['nodedev-list', ['nodedev-list'], 'denied'],
      ['iface-list', ['iface-list', '--all'], 'denied'],
      ['secret-list', ['secret-list'], 'denied'],
      ['pool-list', ['pool-list', '--all'], 'denied'],
      ['nwfilter-list', ['nwfilter-list'], 'denied'],
      ['nwfilter-binding-list', ['nwfilter-binding-list'], 'denied'],
      ['capabilities', ['capabilities'], 'allowed'],
      ['nodeinfo', ['nodeinfo'], 'allowed'],
    ];
    const cells: { user: User; socket: string; kind: string; got: Verdict; want: Verdict; why: string }[] = [];
    for (const user of USERS) {
      for (const socket of ['rw', 'ro'] as const) {
        for (const [kind, args, userWant] of kinds) {
          const o = asUser(user, ['virsh', ...(socket === 'ro' ? ['-r'] : []), '-c', URI, ...args]);
          const got = judge(o);
          const want: Verdict = user === 'carol' ? 'allowed' : user === 'dave' ? 'denied' : userWant;
          const actions = [socket === 'rw' ? 'org.libvirt.unix.manage' : 'org.libvirt.unix.monitor', 'org.libvirt.api.connect.getattr', KIND_ACTIONS[kind]!];
          assert.equal(tableVerdict(user, actions), want, `table: ${user} ${socket} ${kind}`);
          assert.equal(rulesVerdict(user, actions), want, `rendered rules: ${user} ${socket} ${kind}`);
          cells.push({ user, socket, kind, got, want, why: lastWhy });
        }
      }
    }
    const cols = USERS.flatMap((u) => (['rw', 'ro'] as const).map((sk) => [u, sk] as const));
    const headers = ['object', ...cols.map(([u, sk]) => `${u}(${GROUPS[u]}) ${sk}`)];
    const rows = kinds.map(([kind]) => [kind, ...cols.map(([u, sk]) => {
      const c = cells.find((x) => x.user === u && x.socket === sk && x.kind === kind)!;
      return `${c.got} ${c.got === c.want ? '✓' : `✗ (want ${c.want})`}`;
    })]);
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
    console.log(`\n${line(headers)}\n${widths.map((w) => '-'.repeat(w)).join('-+-')}\n${rows.map(line).join('\n')}\n`);
    for (const c of cells.filter((x) => x.got !== 'allowed' && x.kind === 'net-list')) console.log(`  ${c.user} ${c.socket} net-list: ${c.why}`);
    const mismatches = cells.filter((c) => c.got !== c.want);
    console.log(`${cells.length} cells, ${mismatches.length} mismatches`);
    assert.deepEqual(mismatches, []);
  });

  test('alice sees only alice-* domains: virsh list --all and raptor vm list', async () => {
    for (const u of ['alice', 'bob'] as const) {
      const v = virshAs(u, ['list', '--all', '--name']);
      assert.equal(v.code, 0, v.stderr);
      const names = v.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
      assert.ok(names.includes(`${u}-${u === 'alice' ? 'a' : 'b'}`));
      assert.deepEqual(names.filter((n) => !n.startsWith(`${u}-`)), [], `${u} sees ${names.join(', ')}`);
      const r = raptorAs(u, config, ['--json', 'vm', 'list']);
      assert.equal(r.code, 0, r.stderr);
      const vms = (JSON.parse(r.stdout) as { name: string }[]).map((x) => x.name);
      assert.ok(vms.length > 0);
      assert.deepEqual(vms.filter((n) => !n.startsWith(`${u}-`)), []);
    }
    // an admin sees both
    const c = virshAs('carol', ['list', '--all', '--name']).stdout;
    for (const d of DOMAINS) assert.ok(c.includes(d));
  });

  test('a vm-user drives their own VM through raptor; others\' VMs are refused', async () => {
    bringTo('alice-a', 'shut off');
    const start = raptorAs('alice', config, ['vm', 'start', 'alice-a']);
    assert.equal(start.code, 0, start.stderr);
    assert.equal(domainState('alice-a'), 'running');
    const show = raptorAs('alice', config, ['--json', 'vm', 'show', 'alice-a']);
    assert.equal(show.code, 0, show.stderr);
    assert.equal((JSON.parse(show.stdout) as { state: string }).state, 'running');
    const stop = raptorAs('alice', config, ['vm', 'stop', 'alice-a', '--force']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(domainState('alice-a'), 'shut off');
    for (const args of [['vm', 'show', 'bob-b'], ['vm', 'start', 'bob-b']]) {
      const r = raptorAs('alice', config, args);
      assert.ok(r.code === 5 || r.code === 4, `${args.join(' ')}: exit ${r.code} ${r.stderr}`);
    }
  });

  test('admin-only commands tell a non-admin that they need an admin (exit 5), and change nothing', () => {
    const cases = [
      ['vm', 'create', 'alice-x', '--cpus', '1', '--memory', '64M', '--disk', '1G', '--no-network'],
      ['vm', 'destroy', 'alice-a', '--yes'],
      ['user', 'add', 'alice', '--ssh-key', TEST_KEYS.rsa2048],
      ['user', 'remove', 'bob'],
      ['host', 'init'],
    ];
    for (const u of ['alice', 'dave'] as const) {
      for (const args of cases) {
        const r = raptorAs(u, config, args);
        assert.equal(r.code, 5, `${u}: raptor ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`raptor ${args[0]} ${args[1]} needs an admin \\(root or a member of libvirt/libvirtd/wheel\\)`));
      }
    }
    // an admin without root is told to use sudo: these commands change LVM, accounts, /etc
    for (const args of cases) {
      const r = raptorAs('carol', config, args);
      assert.equal(r.code, 5, `carol: raptor ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`run it as root \\(sudo raptor ${args[0]} ${args[1]}\\)`));
    }
    assert.notEqual(domainState('alice-a'), undefined);
    assert.equal(domainState('alice-x'), undefined);
  });

  test("raptor's own actions: each one's refusal is what the permission table and authorize() say (exit 5), and changes nothing", () => {
    const ARGV: Record<RaptorAction, string[]> = {
      'vm create': ['vm', 'create', 'alice-x', '--cpus', '1', '--memory', '64M', '--disk', '1G', '--no-network'],
      'vm destroy': ['vm', 'destroy', 'alice-a', '--yes'],
      'vm adopt': ['vm', 'adopt', 'alice-a'],
      'vm resize': ['vm', 'resize', 'alice-a', '--memory', '128M'],
      'vm expire': ['vm', 'expire', 'alice-a', '30d'],
      'vm reap': ['--yes', 'vm', 'reap'],
      'user add': ['user', 'add', 'alice', '--ssh-key', TEST_KEYS.rsa2048],
      'user remove': ['user', 'remove', 'bob'],
      'host init': ['host', 'init'],
      'dns sync': ['dns', 'sync', '--dry-run'],
    };
    assert.deepEqual(Object.keys(ARGV).sort(), [...RAPTOR_ACTIONS].sort());
    const before = rootOk(['virsh', '-c', URI, 'dumpxml', '--inactive', 'alice-a']);
    for (const action of RAPTOR_ACTIONS) {
      for (const u of ['alice', 'bob', 'carol', 'dave'] as const) {
        const role = roleFor(u, ARGV[action][2]);
        assert.equal(allows(role, action), role === 'admin', `${u} (${role}) ${action}`);
        const r = raptorAs(u, config, ARGV[action]);
        assert.equal(r.code, 5, `${u}: raptor ${action}: ${r.stderr}`);
        // carol is an admin but not root: told to use sudo; the others need an admin
        if (role === 'admin') assert.match(r.stderr, new RegExp(`raptor ${action} changes volumes, accounts and system files: run it as root \\(sudo raptor ${action}\\)`));
        else assert.match(r.stderr, new RegExp(`raptor ${action} needs an admin \\(root or a member of libvirt/libvirtd/wheel\\)`));
      }
    }
    assert.equal(rootOk(['virsh', '-c', URI, 'dumpxml', '--inactive', 'alice-a']), before);
    assert.equal(domainState('alice-x'), undefined);
  });

  test("the service acts as its actor: a root process listing for alice sees only alice-*, bob cannot start alice-a, and the actor's commands carry its uid, gid and groups", async () => {
    const cfg = loadTestConfig(config);
    const as = (actor: Actor) => createContext(cfg, 'test', actor);
    const alice = ACTORS.get('alice')!;
    assert.equal(process.getuid?.(), 0, 'this test runs as root and acts for others');
    assert.ok(alice.groups.includes('vm-users') && alice.uid !== 0);
    const rootActor: Actor = { user: 'root', uid: 0, gid: 0, groups: ['root'], via: 'cli' };
    const root = await listVms(as(rootActor));
    for (const d of DOMAINS) assert.ok(root.some((v) => v.name === d), `root sees ${d}`);
    const seen = (await listVms(as(alice))).map((v) => v.name);
    assert.ok(seen.includes('alice-a'), `alice sees ${seen.join(', ')}`);
    assert.deepEqual(seen.filter((n) => !n.startsWith('alice-')), []);
    // user list for alice: the VM names libvirt shows her, and none of root's account record
    const users = await listUsers(as(alice));
    const names = users.flatMap((u) => u.vms);
    assert.ok(names.includes('alice-a'));
    assert.deepEqual(names.filter((n) => !n.startsWith('alice-')), []);
    assert.deepEqual(users.filter((u) => u.raptor !== null), []);
    const forRoot = await listUsers(as(rootActor));
    assert.equal(forRoot.find((u) => u.user === 'alice')?.raptor, 'created');
    assert.ok(forRoot.flatMap((u) => u.vms).includes('bob-b'));
    // bob asks libvirt as bob: alice-a is not his, so libvirt does not even find it for him
    bringTo('alice-a', 'shut off');
    await assert.rejects(startVm(as(ACTORS.get('bob')!), parseVmId('alice-a')), (e: unknown) => e instanceof RaptorError && (e.kind === 'not-found' || e.kind === 'not-allowed'));
    assert.equal(domainState('alice-a'), 'shut off');
    // alice's own start and stop go through as alice
    assert.equal(await startVm(as(alice), parseVmId('alice-a')), 'started');
    assert.equal(domainState('alice-a'), 'running');
    assert.equal(await stopVm(as(alice), parseVmId('alice-a'), true), 'forced off');
    // the console log is root's file: a root process does not read it for a vm-user
    assert.throws(() => readConsoleLog(as(alice), parseVmId('alice-a')), (e: unknown) => e instanceof RaptorError && e.kind === 'not-allowed' && /readable by admins only/.test(e.message));
    // the commands for an actor really run with its uid, gid and supplementary groups (setpriv)
    // `id` as uid, gid and the set of groups (the kernel keeps supplementary groups sorted by number)
    const parseId = (out: string) => {
      const m = /^uid=(\S+) gid=(\S+)(?: groups=(\S+))?$/.exec(out.trim());
      assert.ok(m, out);
      return `${m[1]} ${m[2]} ${(m[3] ?? '').split(',').sort().join(',')}`;
    };
    const ids = async (actor: Actor) => parseId((await actorRun(as(actor))(['id'])).stdout);
    assert.equal(await ids(alice), parseId(rootOk(['id', 'alice'])));
    const bare = { ...alice, groups: alice.groups.filter((g) => g !== 'vm-users') };
    const bareIds = await ids(bare);
    assert.match(bareIds, new RegExp(`^${alice.uid}\\(alice\\) ${alice.gid}\\(`));
    assert.doesNotMatch(bareIds, /vm-users/);
    // polkitd looks a caller's groups up in the group database by uid (it does not read the
    // process's), so for libvirt the uid decides: alice without the group still sees her own only
    assert.deepEqual((await listVms(as(bare))).map((v) => v.name), seen);
    assert.equal(domainState('alice-a'), 'shut off');
  });
});
