import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DnsSyncRequest, parseRequest, PowerRequest, UserAddRequest, VmCreateRequest, VmInfoResult, VmListResult, VmShowResult } from './schemas.ts';
import { vmInfo } from './vm.ts';
import { resolveConfig } from '../core/config.ts';
import { parseDomainXml } from '../libvirt/domain-xml.ts';
import { RaptorError } from '../core/errors.ts';

test('vm create request: the HTTP body (sizes as CLI strings) with defaults; bad shapes are bad input naming the field', () => {
  const r = parseRequest(VmCreateRequest, { id: 'alice-web', cpus: 2, memory: '512M', disk: '20G', network: false, sshKeys: ['ssh-ed25519 AAAA a@b'], start: true });
  assert.equal(r.id, 'alice-web');
  assert.equal(r.dryRun, false);
  assert.equal(r.cloudInit, true);
  assert.equal(r.timeoutS, 300);
  const bad = (v: unknown, re: RegExp) => assert.throws(() => parseRequest(VmCreateRequest, v), (e: unknown) => e instanceof RaptorError && e.kind === 'bad-input' && re.test(e.message));
  bad({ id: 'alice-web', memory: 'lots' }, /^memory: a size like/);
  bad({ id: 'alice-web', cpus: 0 }, /^cpus: /);
  bad({ id: 'alice-web', bridge: 'br-vm1', network: false }, /^--bridge and --no-network cannot be used together$/);
  bad({ id: 'alice-web', network: true }, /^network: /);
  bad({ id: 'alice-web', rootPassword: 'x' }, /Unrecognized key/);
  bad({ cpus: 1 }, /^id: /);
});

test('power, user and dns requests', () => {
  assert.deepEqual(parseRequest(PowerRequest, { id: 'alice-a', verb: 'stop' }), { id: 'alice-a', verb: 'stop', force: false });
  assert.throws(() => parseRequest(PowerRequest, { id: 'alice-a', verb: 'explode' }), /^RaptorError: verb: /);
  assert.deepEqual(parseRequest(UserAddRequest, { user: 'alice' }), { user: 'alice', sshKeys: [], addExisting: false, dryRun: false });
  assert.deepEqual(parseRequest(DnsSyncRequest, {}), { dryRun: false });
});

test('vm list/show results: what vmInfo makes fits the schema exactly (the --json shapes)', () => {
  const config = resolveConfig({ bridges: [{ name: 'br-vm1', mac: '52:54:00:00:00:01', ipv4: '198.51.100.11' }] });
  const xml = readFileSync(new URL('../../test/golden/alice-web.xml', import.meta.url), 'utf8');
  const info = vmInfo(config, { name: 'alice-web', state: 'running', parsed: parseDomainXml(xml) }, () => 1024);
  assert.deepEqual(VmInfoResult.parse(info), info);
  assert.deepEqual(VmListResult.parse([info]), [info]);
  assert.deepEqual(VmShowResult.parse({ ...info, pending: { memoryMiB: 4096 } }), { ...info, pending: { memoryMiB: 4096 } });
  assert.throws(() => VmInfoResult.parse({ ...info, secret: 1 }));
});
