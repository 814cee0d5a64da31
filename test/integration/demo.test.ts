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

test('npm run demo: Secure Boot guest, DHCP address of its bridge, DNS name and PTR, owner view, destroy; SSH into a Debian cloud guest', { timeout: 1_500_000 }, () => {
  requireSandbox();
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${ROOT}scripts/demo.ts`], { cwd: ROOT, encoding: 'utf8', timeout: 1_490_000 });
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
  // the Debian cloud guest: its owner logs in by its DNS name, and it says who and what it is
  const login = /alice\$ ssh alice@(alice-deb\.raptor\.test) hostname\s+\(alice-deb\.raptor\.test -> (\S+) from the sandbox DNS\)\n\s+(\S+)\n/.exec(out);
  assert.ok(login, 'the demo logged into the Debian guest by its DNS name');
  assert.equal(login[3], 'alice-deb');
  assert.equal(config.bridges.some((b) => b.ipv4 === login[2]), true, 'the address is a bridge address');
  assert.match(out, /hostname: alice-deb\n/);
  assert.match(out, /secure boot: Secure boot enabled\n/);
  assert.match(out, /kernel consoles: .*hvc0/);
  assert.match(out, /console getty: serial-getty@hvc0 active/);
  const t = /time to SSH: ([\d.]+) s after vm create began\n\s+raptor ([\d.]+) s \| vm start ([\d.]+) s \| firmware\+shim\+grub ([\d.]+) s \| kernel\+initramfs ([\d.]+) s \| systemd\+cloud-init to sshd ([\d.]+) s \| sshd to login ([\d.]+) s/.exec(out);
  assert.ok(t, 'the demo printed the time to SSH, split into phases');
  const [total, ...phases] = t.slice(1).map(Number);
  const sum = phases.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - total!) < 1.5, `the phases (${sum.toFixed(1)} s) add up to the total (${total} s)`);
  assert.match(out, /vm destroy alice-deb \(DNS, undefine, stop, seed, wipe, lvremove\)/);
});
