// The API over the real service layer, on the in-memory hypervisor and volumes: what the bridge
// hands the service, and what comes back (plans, progress events, refusals), without root or a host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../core/config.ts';
import { FakeHypervisor } from '../libvirt/fake-hypervisor.ts';
import { FakeVolumes } from '../storage/fake-volumes.ts';
import type { BlockDevices } from '../storage/devices.ts';
import { runCommand, type Runner } from '../host/runner.ts';
import { createContext, createVm } from '../service/vm.ts';
import { CredentialStore, type AccountEntry } from '../service/web-auth.ts';
import { createApp } from './app.ts';
import { hostWebService } from './service-bridge.ts';

const GiB = 2 ** 30;

function world() {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-web-svc-'));
  const config = parseConfigText(
    [
      'domain_type = "qemu"',
      `lock_file = "${dir}/run/raptor.lock"`,
      `audit_log = "${dir}/log/audit.jsonl"`,
      `nvram_dir = "${dir}/nvram"`,
      `seed_dir = "${dir}/seeds"`,
      '[cpus]',
      'reserved = ""',
      '[dns]',
      'enabled = false',
      '[[bridges]]',
      'name = "br-vm1"',
    ].join('\n'),
    'test',
  );
  const hv = new FakeHypervisor();
  const volumes = new FakeVolumes(config.storage.vg, 10 * GiB);
  const devices: BlockDevices = { holders: (path) => ({ device: path, holders: [], unreadable: [] }), zero: async () => {} };
  // only the host lock's flock is a real command; anything else would be a leak past the fakes
  const run: Runner = async (argv, o) => {
    if (argv[0] !== 'flock') throw new Error(`unexpected command: ${argv.join(' ')}`);
    return runCommand(argv, o);
  };
  const host = { hv, volumes, devices, privileged: true };
  // the process is the admin (no setpriv), alice a vm-user of another uid
  const me = process.getuid?.() ?? 0;
  const accounts: AccountEntry[] = [
    { user: 'admin', uid: me, gid: process.getgid?.() ?? 0, groups: ['admin', 'wheel'] },
    { user: 'alice', uid: me + 1, gid: me + 1, groups: ['alice', 'vm-users'] },
  ];
  const credentials = new CredentialStore();
  const app = createApp({
    config,
    service: hostWebService(config, { run, host }),
    credentials,
    accounts: { byUid: (uid) => accounts.find((a) => a.uid === uid) },
    redeemProof: () => ({ uid: me }),
  });
  const token = credentials.issue('token', { user: 'admin', uid: me }, 3600).secret;
  const aliceToken = credentials.issue('token', { user: 'alice', uid: me + 1 }, 3600).secret;
  const call = (path: string, init: RequestInit & { as?: string } = {}) =>
    app.request(`http://127.0.0.1:8470${path}`, { ...init, headers: { host: '127.0.0.1:8470', authorization: `Bearer ${init.as ?? token}`, 'content-type': 'application/json' } });
  const admin = { user: 'admin', uid: me, gid: 0, groups: ['wheel'], via: 'cli' as const };
  const seedVm = () => createVm(createContext(config, 'test', admin, run, host), { vm: { user: 'alice', name: 'web' }, cpus: 1, memoryBytes: 512 * 2 ** 20, diskBytes: GiB });
  return { hv, volumes, call, seedVm, aliceToken, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a dry run through the API is the service plan as the CLI prints it, and changes nothing', async () => {
  const w = world();
  try {
    const r = await w.call('/api/v1/vms', { method: 'POST', body: JSON.stringify({ id: 'alice-web', cpus: 1, memory: '512M', disk: '1G', dryRun: true }) });
    assert.equal(r.status, 200, await r.clone().text());
    const plan = (await r.json()) as { vm: string; steps: { kind: string; why?: string }[]; xml: string; allocation: { bridge: string } };
    assert.equal(plan.vm, 'alice-web');
    assert.deepEqual(plan.steps.map((s) => s.kind).slice(0, 1), ['lv-create']);
    assert.ok(plan.steps.every((s) => typeof s.why === 'string' || s.why === undefined));
    assert.match(plan.xml, /<name>alice-web<\/name>/);
    assert.equal(plan.allocation.bridge, 'br-vm1');
    assert.deepEqual([w.hv.calls, w.volumes.calls], [[], []]);
  } finally {
    w.done();
  }
});

test('refusals of the service keep their status: no capacity is 409, a missing VM 404, before any 202', async () => {
  const w = world();
  try {
    await w.seedVm();
    const calls = [...w.hv.calls];
    const full = await w.call('/api/v1/vms', { method: 'POST', body: JSON.stringify({ id: 'alice-db', cpus: 1, memory: '512M', disk: '1G' }) });
    assert.equal(full.status, 409, 'the one bridge is taken');
    assert.match(((await full.json()) as { error: { message: string } }).error.message, /no free bridge/);
    assert.equal((await w.call('/api/v1/vms/alice-gone', { method: 'DELETE' })).status, 404);
    assert.deepEqual(w.hv.calls, calls);
  } finally {
    w.done();
  }
});

test('a destroy runs as an operation whose step events come from the applier', async () => {
  const w = world();
  try {
    await w.seedVm();
    const r = await w.call('/api/v1/vms/alice-web', { method: 'DELETE' });
    assert.equal(r.status, 202, await r.clone().text());
    const { operation } = (await r.json()) as { operation: string };
    const op = (await (await w.call(`${operation}?wait=1`)).json()) as { status: string; error: unknown; events: { type: string; status?: string; step: string; count?: number }[]; result: { destroyed: string } };
    assert.equal(op.status, 'succeeded', JSON.stringify(op.error));
    assert.equal(op.result.destroyed, 'alice-web');
    const finished = op.events.filter((e) => e.type === 'step' && e.status === 'finished').map((e) => e.step);
    assert.ok(finished.includes('domain-undefine') && finished.includes('lv-remove'), JSON.stringify(op.events));
    assert.equal(w.hv.domains.size, 0);
    assert.equal((await w.call('/api/v1/vms/alice-web')).status, 404);
  } finally {
    w.done();
  }
});

test('the admin lists through the real service; a vm-user of another uid is refused a create with 403 first', async () => {
  const w = world();
  try {
    await w.seedVm();
    const list = (await (await w.call('/api/v1/vms')).json()) as { name: string; user: string }[];
    assert.deepEqual(list.map((v) => [v.name, v.user]), [['alice-web', 'alice']]);
    const r = await w.call('/api/v1/vms', { method: 'POST', as: w.aliceToken, body: JSON.stringify({ id: 'alice-x', cpus: 1, memory: '512M', disk: '1G' }) });
    assert.equal(r.status, 403);
  } finally {
    w.done();
  }
});
