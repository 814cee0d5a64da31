// host check with a firmware file that is missing: the fix names the firmware files libvirt's
// domain capabilities list on this host, and none of the enum values (rom, pflash, yes, no) beside them.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loaderPaths } from '../../src/libvirt/domain-caps.ts';
import { raptor, sh, testConfigPath } from './lib/raptor.ts';

const base = testConfigPath();
const path = `${base}.firmware.toml`;
after(() => rmSync(path, { force: true }));

test('host check: a missing firmware.code gets a fix listing the loader files of virsh domcapabilities', async () => {
  const text = readFileSync(base, 'utf8');
  assert.match(text, /^\[firmware\]\ncode = ".*"$/m);
  writeFileSync(path, text.replace(/^(\[firmware\]\n)code = ".*"$/m, '$1code = "/nonexistent/raptor-test/OVMF_CODE.fd"'));
  const config = readFileSync(path, 'utf8');
  const machine = /^machine = "(.*)"$/m.exec(config)?.[1] ?? 'q35';
  const virtType = /^domain_type = "(.*)"$/m.exec(config)?.[1] ?? 'kvm';
  // what libvirt itself lists, read independently of raptor's virsh client
  const files = loaderPaths(sh(['virsh', '-c', 'qemu:///system', 'domcapabilities', '--virttype', virtType, '--machine', machine]));
  assert.ok(files.length > 0, 'the sandbox has OVMF installed, so libvirt lists at least one loader');
  const out = await raptor(['--json', 'host', 'check'], { config: path });
  assert.equal(out.code, 1, out.stderr);
  const line = (out.json as { check: string; ok: boolean; detail: string; fix: string | null }[]).find((l) => l.check === 'firmware.code');
  assert.ok(line && !line.ok, out.stdout);
  assert.equal(line.detail, '/nonexistent/raptor-test/OVMF_CODE.fd missing');
  assert.ok(line.fix!.endsWith(`; virsh domcapabilities lists these firmware files: ${files.join(', ')}`), line.fix!);
  assert.doesNotMatch(line.fix!, /\b(rom|pflash)\b/);
});
