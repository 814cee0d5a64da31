// README's first command as a test: a Secure Boot guest on a raptor VM boots, talks on its VirtIO
// console, gets its bridge's address by DHCP and is reachable by name, and alice sees only hers.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseConfigText } from '../../src/core/config.ts';
import { requireSandbox, SANDBOX_CONFIG } from './lib/raptor.ts';
import { removeAccount } from './lib/users.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

after(() => removeAccount('alice'));

test('npm run demo: Secure Boot guest, DHCP address of its bridge, DNS name and PTR, owner view, destroy', { timeout: 600_000 }, () => {
  requireSandbox();
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${ROOT}scripts/demo.ts`], { cwd: ROOT, encoding: 'utf8', timeout: 590_000 });
  const out = r.stdout;
  assert.equal(r.status, 0, `${out.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  assert.match(out.trim().split('\n').pop()!, /^demo: ok in \d+(\.\d+)? s$/);
  assert.match(out, /raptor-guest: secureboot=enabled/);
  assert.match(out, /kernel secureboot: Secure boot enabled/);
  const config = parseConfigText(readFileSync(SANDBOX_CONFIG, 'utf8'), SANDBOX_CONFIG);
  const dhcp = /(br-vm\d): configured (\S+), guest got (\S+)/.exec(out);
  assert.ok(dhcp, 'the demo printed the DHCP comparison');
  assert.equal(dhcp[3], dhcp[2]);
  assert.equal(config.bridges.find((b) => b.name === dhcp[1])?.ipv4, dhcp[3]);
  assert.match(out, new RegExp(`alice-demo\\.raptor\\.test A ${dhcp[3]!.replace(/\./g, '\\.')}`));
  assert.match(out, new RegExp(`PTR ${dhcp[3]!.replace(/\./g, '\\.')} -> alice-demo\\.raptor\\.test\\.`));
  assert.match(out, /alice\$ virsh list --all --name\n\s+alice-demo\n/);
  assert.match(out, /virsh setmem alice-demo 256M -> denied/);
  assert.match(out, /time to the DHCP lease: [\d.]+ s/);
});
