import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import ts from 'typescript';
import { CONNECT_ACTIONS, INTERACT_PERMISSIONS, renderPolkitRules } from './polkit-rules.ts';

const ACCESS = { admin_groups: ['libvirt', 'libvirtd', 'wheel'], user_group: 'vm-users' };
const rules = renderPolkitRules(ACCESS);

type Rule = (action: unknown, subject: unknown) => string | null | undefined;

/** Load the rules as polkitd does: a script calling polkit.addRule(fn). */
function load(text: string): Rule {
  const added: Rule[] = [];
  const polkit = { Result: { YES: 'yes', NO: 'no', NOT_HANDLED: null }, addRule: (f: Rule) => added.push(f) };
  runInNewContext(text, { polkit });
  assert.equal(added.length, 1);
  return added[0]!;
}

const GROUPS: Record<string, string[]> = { root: ['root'], alice: ['alice', 'vm-users'], bob: ['bob', 'vm-users'], carol: ['carol', 'wheel'], dave: ['dave'], nix: ['nix', 'libvirtd'] };

function decide(user: string, id: string, domain?: string): string | null | undefined {
  const rule = load(rules);
  const action = { id, lookup: (k: string) => (k === 'domain_name' ? domain : undefined) };
  const subject = { user, isInGroup: (g: string) => GROUPS[user]!.includes(g) };
  return rule(action, subject);
}

const ALL_DOMAIN_PERMS = ['getattr', 'read', 'read-secure', 'write', 'save', 'delete', 'start', 'stop', 'reset', 'init-control', 'open-device', 'snapshot', 'migrate', 'suspend', 'hibernate', 'core-dump', 'send-input', 'screenshot', 'block-read'];

test('the rules are ES5: no let/const, arrow functions, template literals, classes', () => {
  const sf = ts.createSourceFile('rules.js', rules, ts.ScriptTarget.ES5, true, ts.ScriptKind.JS);
  const bad: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isVariableDeclarationList(n) && n.flags & (ts.NodeFlags.Let | ts.NodeFlags.Const)) bad.push('let/const');
    if (ts.isArrowFunction(n)) bad.push('arrow function');
    if (ts.isTemplateExpression(n) || ts.isNoSubstitutionTemplateLiteral(n)) bad.push('template literal');
    if (ts.isClassDeclaration(n) || ts.isSpreadElement(n) || ts.isForOfStatement(n)) bad.push(ts.SyntaxKind[n.kind]);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  assert.deepEqual(bad, []);
  assert.equal((sf as unknown as { parseDiagnostics: unknown[] }).parseDiagnostics.length, 0);
});

test('anything that is not libvirt\'s is NOT_HANDLED, for everyone', () => {
  for (const user of Object.keys(GROUPS)) {
    assert.equal(decide(user, 'org.freedesktop.login1.reboot'), null);
    assert.equal(decide(user, 'org.libvirtx.fake'), null);
  }
});

test('root and every admin group may do everything', () => {
  for (const user of ['root', 'carol', 'nix']) {
    for (const perm of ALL_DOMAIN_PERMS) assert.equal(decide(user, `org.libvirt.api.domain.${perm}`, 'bob-b'), 'yes', `${user} ${perm}`);
    assert.equal(decide(user, 'org.libvirt.unix.manage'), 'yes');
    assert.equal(decide(user, 'org.libvirt.api.network.write'), 'yes');
  }
});

test('vm-users: the interact set on their own domains, NO for the rest and for others\' domains', () => {
  for (const perm of ALL_DOMAIN_PERMS) {
    const interact = (INTERACT_PERMISSIONS as readonly string[]).includes(perm);
    assert.equal(decide('alice', `org.libvirt.api.domain.${perm}`, 'alice-a'), interact ? 'yes' : 'no', `own ${perm}`);
    assert.equal(decide('alice', `org.libvirt.api.domain.${perm}`, 'bob-b'), 'no', `other ${perm}`);
  }
  // the first "-" splits: "alice" is no prefix of "alicex-…" or "bob-alice-…"
  assert.equal(decide('alice', 'org.libvirt.api.domain.read', 'alicex-a'), 'no');
  assert.equal(decide('alice', 'org.libvirt.api.domain.read', 'bob-alice-a'), 'no');
  assert.equal(decide('alice', 'org.libvirt.api.domain.read', 'alice'), 'no');
  assert.equal(decide('alice', 'org.libvirt.api.domain.read', undefined), 'no');
  for (const id of CONNECT_ACTIONS) assert.equal(decide('alice', id), 'yes', id);
  assert.equal(decide('alice', 'org.libvirt.api.connect.write'), 'no');
  assert.equal(decide('alice', 'org.libvirt.api.network.read'), 'no');
});

/** Every libvirt action polkit knows (libvirt's org.libvirt.api.policy and org.libvirt.unix.policy), by object kind. */
const OTHER_OBJECT_ACTIONS = [
  ...['getattr', 'read', 'write', 'search-domains', 'search-networks', 'search-storage-pools', 'search-node-devices', 'search-interfaces', 'search-secrets', 'search-nwfilters', 'search-nwfilter-bindings', 'detect-storage-pools', 'pm-control', 'interface-transaction'].map((p) => `org.libvirt.api.connect.${p}`),
  ...['getattr', 'read', 'write', 'save', 'delete', 'start', 'stop', 'search-ports'].map((p) => `org.libvirt.api.network.${p}`),
  ...['getattr', 'read', 'write', 'create', 'delete'].map((p) => `org.libvirt.api.network-port.${p}`),
  ...['getattr', 'read', 'write', 'start', 'stop', 'detach', 'delete'].map((p) => `org.libvirt.api.node-device.${p}`),
  ...['getattr', 'read', 'write', 'save', 'delete', 'start', 'stop'].map((p) => `org.libvirt.api.interface.${p}`),
  ...['getattr', 'read', 'read-secure', 'write', 'save', 'delete'].map((p) => `org.libvirt.api.secret.${p}`),
  ...['getattr', 'read', 'write', 'save', 'delete', 'start', 'stop', 'refresh', 'search-storage-vols', 'format'].map((p) => `org.libvirt.api.storage-pool.${p}`),
  ...['getattr', 'read', 'create', 'delete', 'format', 'resize', 'data-read', 'data-write'].map((p) => `org.libvirt.api.storage-vol.${p}`),
  ...['getattr', 'read', 'write', 'save', 'delete'].map((p) => `org.libvirt.api.nwfilter.${p}`),
  ...['getattr', 'read', 'create', 'delete'].map((p) => `org.libvirt.api.nwfilter-binding.${p}`),
];

test('vm-users: NO for every object that is not a domain (networks, node devices, interfaces, secrets, pools, nwfilters) and for connection rights beyond CONNECT_ACTIONS', () => {
  for (const id of OTHER_OBJECT_ACTIONS) {
    const want = (CONNECT_ACTIONS as readonly string[]).includes(id) ? 'yes' : 'no';
    assert.equal(decide('alice', id), want, id);
  }
});

test('anyone else (in no raptor group): NO for every libvirt action, connecting included', () => {
  for (const perm of ALL_DOMAIN_PERMS) assert.equal(decide('dave', `org.libvirt.api.domain.${perm}`, 'dave-x'), 'no');
  for (const id of ['org.libvirt.unix.manage', 'org.libvirt.unix.monitor', ...OTHER_OBJECT_ACTIONS]) assert.equal(decide('dave', id), 'no', id);
  for (const user of ['root', 'carol', 'nix']) for (const id of OTHER_OBJECT_ACTIONS) assert.equal(decide(user, id), 'yes', `${user} ${id}`);
});

test('group names from the config are quoted as JavaScript strings', () => {
  const r = renderPolkitRules({ admin_groups: ['adm"in'], user_group: 'vm\\users' });
  assert.match(r, /var ADMIN_GROUPS = \["adm\\"in"\];/);
  assert.match(r, /var USER_GROUP = "vm\\\\users";/);
  load(r);
});

test('rendering is deterministic (host init compares bytes)', () => {
  assert.equal(renderPolkitRules(ACCESS), rules);
  assert.ok(rules.endsWith('});\n'));
});
