// NixOS output, and the service's NixOS and fake-root paths (a fake root dir, a recording runner).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../core/config.ts';
import type { Runner } from '../host/runner.ts';
import { ensureAccount, hostCheck, hostInit, removeUser, type AccessContext } from '../service/access.ts';
import { createContext } from '../service/vm.ts';
import { ShadowAccounts } from './accounts.ts';
import { nixIndented, nixosHostConfig, nixosUserConfig } from './nixos.ts';
import { renderPolkitRules } from './polkit-rules.ts';
import { parsePublicKey } from './ssh-keys.ts';

const KEY = parsePublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZ/H9cmNpoCbawjwCGpCKyA3ZGaCJaoYqimsfv2EnwG alice@laptop');

/** A runner that answers getent from a table and records every command. */
function fakeRunner(groups: Record<string, string>, users: Record<string, string> = {}) {
  const calls: string[][] = [];
  const run: Runner = async (argv) => {
    calls.push(argv);
    if (argv[0] === 'getent') {
      const line = (argv[1] === 'group' ? groups : users)[argv[2]!];
      return { code: line ? 0 : 2, stdout: line ? `${line}\n` : '', stderr: '' };
    }
    if (argv[0] === 'id') return { code: 0, stdout: 'alice vm-users\n', stderr: '' };
    if (argv.includes('list')) return { code: 0, stdout: '', stderr: '' };
    return { code: 0, stdout: '', stderr: '' };
  };
  return { run, calls };
}

function fakeRoot(nixos: boolean): string {
  const root = mkdtempSync(join(tmpdir(), 'raptor-root-'));
  mkdirSync(join(root, 'etc/libvirt'), { recursive: true });
  writeFileSync(join(root, 'etc/libvirt/libvirtd.conf'), '#access_drivers = [ "polkit" ]\n', { mode: 0o640 });
  writeFileSync(join(root, 'etc/libvirt/virtqemud.conf'), '');
  writeFileSync(join(root, 'etc/libvirt/virtlogd.conf'), '');
  if (nixos) writeFileSync(join(root, 'etc/NIXOS'), '');
  return root;
}

function ctxWith(rootDir: string, run: Runner): AccessContext {
  const config = resolveConfig({});
  const base = createContext(config, 'test', { user: 'root', uid: 0, gid: 0, groups: ['root'], via: 'cli' }, run, { privileged: true });
  return { ...base, accounts: new ShadowAccounts(run, join(rootDir, config.access.accounts_file)), rootDir };
}

const CHANGING = new Set(['useradd', 'usermod', 'userdel', 'groupadd', 'systemctl']);

test('nix strings: indented strings escape \'\' and ${, attrs are exact', () => {
  assert.equal(nixIndented("a ''b'' ${c}\n", '  '), "  a '''b''' ''${c}");
  assert.equal(
    nixosUserConfig('alice', 'vm-users', [KEY]),
    'users.users.alice = {\n  isNormalUser = true;\n  extraGroups = [ "vm-users" ];\n  openssh.authorizedKeys.keys = [\n    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZ/H9cmNpoCbawjwCGpCKyA3ZGaCJaoYqimsfv2EnwG alice@laptop"\n  ];\n};\n',
  );
  const host = nixosHostConfig('vm-users', renderPolkitRules({ admin_groups: ['libvirtd', 'wheel'], user_group: 'vm-users' }));
  assert.match(host, /^users\.groups\.vm-users = \{\};\nsecurity\.polkit\.extraConfig = ''\n {2}\/\/ raptor/);
  assert.match(host, /\n {2}polkit\.addRule\(function \(action, subject\) \{\n/);
  assert.match(host, /virtualisation\.libvirtd\.extraConfig = ''\n {2}access_drivers = \[ "polkit" \]\n'';\n$/);
});

test('NixOS: user add prints users.users.<name> and changes nothing', async () => {
  const root = fakeRoot(true);
  const { run, calls } = fakeRunner({});
  const r = await ensureAccount(ctxWith(root, run), 'alice', [KEY]);
  assert.equal(r.changed, false);
  assert.match(r.nixos!, /This is NixOS/);
  assert.match(r.nixos!, /\n {2}users\.users\.alice = \{\n {4}isNormalUser = true;\n {4}extraGroups = \[ "vm-users" \];\n {4}openssh\.authorizedKeys\.keys = \[\n {6}"ssh-ed25519 AAAA/);
  assert.deepEqual(calls, []);
  rmSync(root, { recursive: true });
});

test('NixOS: host init prints groups, polkit and libvirtd config; writes nothing', async () => {
  const root = fakeRoot(true);
  const before = readFileSync(join(root, 'etc/libvirt/libvirtd.conf'), 'utf8');
  const { run, calls } = fakeRunner({});
  const r = await hostInit(ctxWith(root, run), {});
  assert.match(r.nixos!, /users\.groups\.vm-users = \{\};/);
  assert.match(r.nixos!, /security\.polkit\.extraConfig = ''\n/);
  assert.match(r.nixos!, /virtualisation\.libvirtd\.extraConfig = ''\n {4}access_drivers = \[ "polkit" \]\n {2}'';/);
  assert.ok(!existsSync(join(root, 'etc/polkit-1')));
  assert.equal(readFileSync(join(root, 'etc/libvirt/libvirtd.conf'), 'utf8'), before);
  assert.ok(calls.every((c) => !CHANGING.has(c[0]!)));
  rmSync(root, { recursive: true });
});

test('NixOS: user remove still checks, then prints what to delete', async () => {
  const root = fakeRoot(true);
  const { run, calls } = fakeRunner({}, { alice: 'alice:x:1001:1001::/home/alice:/bin/bash' });
  const r = await removeUser(ctxWith(root, run), 'alice');
  assert.match(r.nixos!, /Delete users\.users\.alice/);
  assert.ok(calls.every((c) => !CHANGING.has(c[0]!)));
  await assert.rejects(removeUser(ctxWith(root, fakeRunner({}).run), 'nobodyhere'), /no account nobodyhere/);
  rmSync(root, { recursive: true });
});

test('fake root, not NixOS: host init writes rules and configs atomically, second run changes nothing', async () => {
  const root = fakeRoot(false);
  const { run, calls } = fakeRunner({ 'vm-users': 'vm-users:x:1500:', wheel: 'wheel:x:10:carol' });
  const ctx = { ...ctxWith(root, run), config: { ...resolveConfig({}), lock_file: join(root, 'lock'), audit_log: join(root, 'audit.jsonl') } };
  const dry = await hostInit(ctx, { dryRun: true });
  assert.equal(dry.changed, true);
  assert.ok(!existsSync(join(root, 'etc/polkit-1/rules.d/60-raptor.rules')));
  const first = await hostInit(ctx, {});
  assert.equal(first.changed, true);
  assert.equal(first.restartNeeded, true);
  assert.deepEqual(first.items.filter((i) => i.status === 'changed').map((i) => i.item), [
    'polkit rules /etc/polkit-1/rules.d/60-raptor.rules',
    'libvirt /etc/libvirt/libvirtd.conf',
    'libvirt /etc/libvirt/virtqemud.conf',
  ]);
  const rulesPath = join(root, 'etc/polkit-1/rules.d/60-raptor.rules');
  assert.equal(readFileSync(rulesPath, 'utf8'), renderPolkitRules(ctx.config.access));
  assert.equal(statSync(join(root, 'etc/libvirt/libvirtd.conf')).mode & 0o777, 0o640, 'mode kept');
  assert.match(readFileSync(join(root, 'etc/libvirt/virtqemud.conf'), 'utf8'), /^access_drivers = \[ "polkit" \]$/m);
  assert.equal(readFileSync(join(root, 'etc/libvirt/virtlogd.conf'), 'utf8'), '', 'virtlogd has no access driver');
  const mtime = statSync(rulesPath).mtimeMs;
  const second = await hostInit(ctx, {});
  assert.equal(second.changed, false);
  assert.equal(second.restartNeeded, false);
  assert.equal(statSync(rulesPath).mtimeMs, mtime);
  assert.ok(calls.every((c) => !CHANGING.has(c[0]!)), 'the group existed: no groupadd');
  const audit = readFileSync(join(root, 'audit.jsonl'), 'utf8').trim().split('\n');
  assert.equal(audit.length, 2);
  rmSync(root, { recursive: true });
});

test('fake root: host check reports a missing rules file with the fix', async () => {
  const root = fakeRoot(false);
  const { run } = fakeRunner({ 'vm-users': 'vm-users:x:1500:' });
  const lines = await hostCheck(ctxWith(root, run));
  const rules = lines.find((l) => l.check === 'polkit rules')!;
  assert.equal(rules.ok, false);
  assert.match(rules.detail, /is missing/);
  assert.match(rules.fix!, /^raptor host init/);
  assert.equal(lines.find((l) => l.check === 'group vm-users')!.ok, true);
  // the built-in defaults know no bridge addresses: DNS would publish nothing, and check says so
  const addrs = lines.find((l) => l.check === 'DNS addresses')!;
  assert.equal(addrs.ok, false);
  assert.match(addrs.detail, /no ipv4\/ipv6 for br-vm1, br-vm2, br-vm3, br-vm4, br-vm5/);
  assert.ok(lines.every((l) => (l.ok ? l.fix === null : typeof l.fix === 'string' && l.fix.length > 0)));
  rmSync(root, { recursive: true });
});
