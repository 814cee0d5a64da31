// The VM service on in-memory fakes: create, destroy, refusals and undo, without root or a host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../core/config.ts';
import { RaptorError } from '../core/errors.ts';
import { TAG_CREATING, TAG_WIPED } from '../core/host-types.ts';
import { renderDomainXml } from '../libvirt/domain-xml.ts';
import { FakeHypervisor } from '../libvirt/fake-hypervisor.ts';
import { isNoDomain, LibvirtError, VIR_ERR } from '../libvirt/hypervisor.ts';
import { runCommand, type Runner } from '../host/runner.ts';
import type { BlockDevices } from '../storage/devices.ts';
import { FakeVolumes } from '../storage/fake-volumes.ts';
import { createContext, createVm, destroyVm, showVm, startVm, stopVm, type Context } from './vm.ts';

const GiB = 2 ** 30;
const WIPE = { offload: true, verify: 'sample' as const, stepBytes: 256 * 2 ** 20 };

interface World {
  ctx: Context;
  hv: FakeHypervisor;
  volumes: FakeVolumes;
  zeroed: string[];
  /** commands the service ran itself (only the lock's flock is expected) */
  ran: string[];
  dir: string;
  done: () => void;
}

function world(opts: { bridges?: string[]; vgBytes?: number } = {}): World {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-svc-'));
  const bridges = (opts.bridges ?? ['br-vm1', 'br-vm2']).map((b) => `[[bridges]]\nname = "${b}"\n`).join('');
  const config = parseConfigText(
    [
      'domain_type = "qemu"',
      `lock_file = "${dir}/run/raptor.lock"`,
      `audit_log = "${dir}/log/audit.jsonl"`,
      `nvram_dir = "${dir}/nvram"`,
      `seed_dir = "${dir}/seeds"`,
      `console_log_dir = "${dir}/console"`,
      '[cpus]',
      'reserved = ""',
      '[dns]',
      'enabled = false',
      bridges,
    ].join('\n'),
    'test',
  );
  const hv = new FakeHypervisor();
  const volumes = new FakeVolumes(config.storage.vg, opts.vgBytes ?? 10 * GiB);
  const zeroed: string[] = [];
  const devices: BlockDevices = {
    holders: (path) => ({ device: path, holders: [], unreadable: [] }),
    zero: async (_run, path) => {
      zeroed.push(path);
    },
  };
  const ran: string[] = [];
  // the host lock is real (flock on a file in the scratch directory); any other command is a leak past the fakes
  const run: Runner = async (argv, o) => {
    ran.push(argv[0]!);
    if (argv[0] !== 'flock') throw new Error(`unexpected command in a fake world: ${argv.join(' ')}`);
    return runCommand(argv, o);
  };
    // an admin acting as the process itself: reads go to the context's (fake) hypervisor, not through setpriv
  const actor = { user: 'admin', uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, groups: ['wheel'], via: 'cli' as const };
  const ctx = createContext(config, 'raptor vm test', actor, run, { hv, volumes, devices, privileged: true });
  return { ctx, hv, volumes, zeroed, ran, dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Everything the fakes hold, to prove a refusal changed nothing. */
const snapshot = (w: World) => JSON.stringify({ domains: [...w.hv.domains.values()], lvs: [...w.volumes.lvMap.values()], calls: [...w.hv.calls, ...w.volumes.calls] });

const vm = { user: 'alice', name: 'web' };
const req = { vm, cpus: 1, memoryBytes: 512 * 2 ** 20, diskBytes: GiB };
const isKind = (kind: string, re?: RegExp) => (e: unknown) => e instanceof RaptorError && e.kind === kind && (re === undefined || re.test(e.message));

/** A domain made by hand on `bridge`, pinning no CPUs. */
function handMade(name: string, bridge: string): string {
  return renderDomainXml({
    name, uuid: '00000000-0000-4000-8000-000000000009', type: 'qemu', memoryMiB: 256, vcpuPins: [], emulatorSet: [], machine: 'q35',
    firmware: { code: 'c', vars: 'v', nvram: 'n' }, disk: { path: `/dev/other/${name}` }, seed: null,
    network: { bridge, mac: '52:54:00:00:00:01' }, console: 'virtio', consoleLog: null, metadata: { owner: 'bob', bridge, createdAt: '' },
  });
}

test('createVm: the LV is made tagged, the domain defined with the planned XML, the tag removed', async () => {
  const w = world();
  try {
    const t0 = performance.now();
    const { plan, reports } = await createVm(w.ctx, req);
    const ms = performance.now() - t0;
    assert.deepEqual(plan.steps.map((s) => s.kind), ['lv-create', 'domain-define', 'lv-untag']);
    assert.ok(reports.every((r) => r.status === 'done'));
    assert.deepEqual(w.volumes.calls, [`create guest-alice-web ${GiB} ${TAG_CREATING}`, `deltag guest-alice-web ${TAG_CREATING}`]);
    assert.deepEqual(w.hv.calls, ['define alice-web']);
    const d = w.hv.domains.get('alice-web');
    assert.equal(d?.xml, plan.xml);
    assert.equal(d?.state, 'shut off');
    assert.deepEqual(w.volumes.lvMap.get('guest-alice-web')?.tags, []);
    assert.deepEqual(w.ran, ['flock']);
    const audit = JSON.parse(readFileSync(w.ctx.config.audit_log, 'utf8').trim()) as { result: string; plan: string[] };
    assert.equal(audit.result, 'ok');
    assert.equal(audit.plan.length, 3);
    const shown = await showVm(w.ctx, vm);
    assert.equal(shown.disk?.volume, 'lvm-data/guest-alice-web');
    assert.ok(ms < 2000, `took ${ms} ms`);
  } finally {
    w.done();
  }
});

test('createVm refusals change nothing: exists (3), no free bridge (3), VG full (3)', async () => {
  const w = world({ bridges: ['br-vm1'], vgBytes: 2 * GiB });
  try {
    await createVm(w.ctx, req);
    let before = snapshot(w);
    await assert.rejects(createVm(w.ctx, req), isKind('conflict', /already exists/));
    assert.equal(snapshot(w), before);
    // alice-web holds the only bridge
    await assert.rejects(createVm(w.ctx, { ...req, vm: { user: 'alice', name: 'db' } }), isKind('conflict', /no free bridge/));
    assert.equal(snapshot(w), before);
    // 1 GiB left in the VG
    await assert.rejects(createVm(w.ctx, { ...req, vm: { user: 'alice', name: 'db' }, noNetwork: true, diskBytes: 2 * GiB }), isKind('conflict', /free/));
    assert.equal(snapshot(w), before);
    // a hand-made domain on the bridge counts as well
    const w2 = world({ bridges: ['br-vm1'] });
    try {
      w2.hv.add(handMade('bob-x', 'br-vm1'));
      before = snapshot(w2);
      await assert.rejects(createVm(w2.ctx, req), isKind('conflict', /no free bridge/));
      assert.equal(snapshot(w2), before);
    } finally {
      w2.done();
    }
  } finally {
    w.done();
  }
});

test('createVm: a failing define undoes the finished steps (the LV is removed), exit 1', async () => {
  const w = world();
  try {
    w.hv.failNext('define');
    await assert.rejects(createVm(w.ctx, req), isKind('unexpected', /define failed \(injected\).*\(finished steps were undone\)/));
    assert.equal(w.volumes.lvMap.size, 0);
    assert.deepEqual(w.volumes.calls, [`create guest-alice-web ${GiB} ${TAG_CREATING}`, 'remove guest-alice-web']);
    assert.equal(w.hv.domains.size, 0);
    const audit = JSON.parse(readFileSync(w.ctx.config.audit_log, 'utf8').trim()) as { result: string };
    assert.equal(audit.result, 'undone');
  } finally {
    w.done();
  }
});

test('createVm: a failing start undoes the define and the LV', async () => {
  const w = world();
  try {
    w.hv.failNext('start', new LibvirtError(VIR_ERR.OPERATION_FAILED, 'operation failed: injected'));
    await assert.rejects(createVm(w.ctx, { ...req, start: true }), isKind('unexpected', /finished steps were undone/));
    assert.equal(w.hv.domains.size, 0);
    assert.equal(w.volumes.lvMap.size, 0);
    assert.deepEqual(w.hv.calls, ['define alice-web', 'undefine alice-web']);
  } finally {
    w.done();
  }
});

test('destroyVm: undefine, stop, wipe, remove; a running VM turns transient and vanishes when stopped', async () => {
  const w = world();
  try {
    await createVm(w.ctx, { ...req, start: true });
    assert.equal(w.hv.domains.get('alice-web')?.state, 'running');
    const { plan } = await destroyVm(w.ctx, vm, { wipe: WIPE });
    assert.deepEqual(plan.steps.map((s) => s.kind), ['domain-undefine', 'domain-stop', 'lv-wipe', 'lv-remove']);
    assert.deepEqual(w.hv.calls.slice(-2), ['undefine alice-web --all', 'shutdown alice-web']);
    assert.equal(w.hv.domains.size, 0);
    assert.deepEqual(w.zeroed, ['/dev/lvm-data/guest-alice-web']);
    assert.deepEqual(w.volumes.calls.slice(-2), [`addtag guest-alice-web ${TAG_WIPED}`, 'remove guest-alice-web']);
    assert.equal(w.volumes.lvMap.size, 0);
    // a second destroy finds nothing: not found (exit 4), nothing changed
    const before = snapshot(w);
    await assert.rejects(destroyVm(w.ctx, vm, { wipe: WIPE }), isKind('not-found', /alice-web not found/));
    assert.equal(snapshot(w), before);
  } finally {
    w.done();
  }
});

test('destroyVm of a VM that never existed: not found, nothing changed', async () => {
  const w = world();
  try {
    const before = snapshot(w);
    await assert.rejects(destroyVm(w.ctx, { user: 'alice', name: 'nope' }, { wipe: WIPE }), (e: unknown) => isKind('not-found')(e) && (e as RaptorError).exitCode === 4);
    assert.equal(snapshot(w), before);
    assert.deepEqual(w.zeroed, []);
  } finally {
    w.done();
  }
});

test('power verbs on the fakes; libvirt errors arrive with their kind and their code', async () => {
  const w = world();
  try {
    await createVm(w.ctx, req);
    assert.equal(await startVm(w.ctx, vm), 'started');
    assert.equal(await startVm(w.ctx, vm), 'already running');
    assert.equal(await stopVm(w.ctx, vm, true), 'forced off');
    await assert.rejects(startVm(w.ctx, { user: 'alice', name: 'gone' }), isKind('not-found'));
    // a denial reaches the caller as not-allowed (exit 5), libvirt's code kept in the cause
    w.hv.failNext('start', new LibvirtError(VIR_ERR.ACCESS_DENIED, "access denied: 'polkit' denies access"));
    await assert.rejects(startVm(w.ctx, vm), (e: unknown) => isKind('not-allowed', /^libvirt: access denied/)(e) && (e as RaptorError).cause instanceof LibvirtError);
    // the context's hypervisor keeps the predicates working through the mapping
    const err = await w.ctx.hv.dumpXml('alice-nope').catch((e: unknown) => e);
    assert.ok(isKind('not-found')(err) && isNoDomain(err));
  } finally {
    w.done();
  }
});
