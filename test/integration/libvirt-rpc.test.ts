// The rpc client (libvirt's own protocol) against the sandbox's libvirtd, side by side with virsh:
// both must see and do the same. Throw-away domains rpct-* and an owner account rpcown with its
// domain rpcown-a are made here and removed afterwards, also on failure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RaptorError } from '../../src/core/errors.ts';
import { isAuthFailure, isNoDomain, type Hypervisor } from '../../src/libvirt/hypervisor.ts';
import { RpcClient } from '../../src/libvirt/rpc/client.ts';
import { RpcHypervisor } from '../../src/libvirt/rpc/rpc-hypervisor.ts';
import { Virsh } from '../../src/libvirt/virsh.ts';
import { actorForUser } from '../../src/host/identity.ts';
import { runCommand } from '../../src/host/runner.ts';
import { actorHv } from '../../src/service/as-actor.ts';
import { createContext } from '../../src/service/vm.ts';
import { loadTestConfig, testConfigPath } from './lib/raptor.ts';
import { defineTinyDomain, domainXml, removeAccount, removeTinyDomain, rootOk } from './lib/users.ts';

const config = loadTestConfig(testConfigPath());
const rpcConfig = { ...config, libvirt_client: 'rpc' as const };
const virshConfig = { ...config, libvirt_client: 'virsh' as const };
const virsh = new Virsh(runCommand, config.libvirt_uri);
const rpc = new RpcHypervisor(new RpcClient(config.libvirt_uri), virsh);
const RUNNING = 'rpct-run';
const STOPPED = 'rpct-off';
const SCRATCH = 'rpct-scratch';
const OWNER = 'rpcown';
const OWNED = `${OWNER}-a`;
const ALL = [RUNNING, STOPPED, SCRATCH, OWNED];

const byName = <T extends { name: string }>(rows: T[]) => [...rows].sort((a, b) => a.name.localeCompare(b.name));
const err = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('libvirt rpc client against the sandbox, compared with virsh', () => {
  before(async () => {
    for (const d of ALL) removeTinyDomain(d);
    removeAccount(OWNER);
    rootOk(['useradd', '--no-create-home', '--groups', config.access.user_group, OWNER]);
    for (const d of [RUNNING, STOPPED, OWNED]) defineTinyDomain(d);
    await virsh.start(RUNNING);
  });
  after(async () => {
    await rpc.close();
    for (const d of ALL) removeTinyDomain(d);
    removeAccount(OWNER);
  });

  test('every domain with its state and XML (live and inactive) is the same through both', async () => {
    const rpcList = byName(await rpc.list());
    assert.deepEqual(rpcList, byName(await virsh.list()));
    assert.ok(rpcList.some((d) => d.name === RUNNING && d.state === 'running'), JSON.stringify(rpcList));
    assert.ok(rpcList.some((d) => d.name === STOPPED && d.state === 'shut off'), JSON.stringify(rpcList));
    for (const inactive of [false, true]) {
      // virsh prints the XML with a final newline of its own
      const norm = (x: string) => x.trim();
      const a = byName(await rpc.listWithXml(norm, { inactive }));
      const b = byName(await virsh.listWithXml(norm, { inactive }));
      assert.deepEqual(a, b);
      assert.ok(a.length >= 3);
      const names = a.map((d) => d.name);
      assert.deepEqual(new Map([...(await rpc.dumpXmls(names, { inactive }))].map(([k, v]) => [k, norm(v)])), new Map([...(await virsh.dumpXmls(names, { inactive }))].map(([k, v]) => [k, norm(v)])));
    }
    assert.equal(await rpc.persistent(RUNNING), await virsh.persistent(RUNNING));
    assert.equal(await rpc.persistent(RUNNING), true);
  });

  test('a missing domain is NO_DOMAIN on both (state and persistent: undefined)', async () => {
    for (const hv of [rpc, virsh] as Hypervisor[]) {
      assert.equal(await hv.state('rpct-nope'), undefined);
      assert.equal(await hv.persistent('rpct-nope'), undefined);
      for (const e of [await err(hv.dumpXml('rpct-nope')), await err(hv.start('rpct-nope')), await err(hv.undefine('rpct-nope'))]) assert.ok(isNoDomain(e), String(e));
    }
    const e = await err(rpc.dumpXml('rpct-nope'));
    assert.equal((e as { code?: number }).code, 42);
  });

  test('define, start, destroy, undefine of a throw-away domain: the same states through both, seen by both', async () => {
    const seen = async () => [await virsh.state(SCRATCH), await rpc.state(SCRATCH)];
    const run = async (hv: Hypervisor) => {
      const states: (string | undefined)[][] = [];
      await hv.define(domainXml(SCRATCH));
      states.push(await seen());
      await hv.start(SCRATCH);
      states.push(await seen());
      const again = await err(hv.start(SCRATCH));
      states.push([(again as { code?: number }).code === 55 ? 'refused' : String(again)]);
      await hv.destroy(SCRATCH);
      states.push(await seen());
      await hv.undefine(SCRATCH, { all: true });
      states.push(await seen());
      return states;
    };
    defineTinyDomain(SCRATCH);
    rootOk(['virsh', '-c', config.libvirt_uri, 'undefine', SCRATCH]);
    const viaRpc = await run(rpc);
    const viaVirsh = await run(virsh);
    assert.deepEqual(viaRpc, [
      ['shut off', 'shut off'],
      ['running', 'running'],
      ['refused'],
      ['shut off', 'shut off'],
      [undefined, undefined],
    ]);
    assert.deepEqual(viaRpc, viaVirsh);
  });

  test('version and domain capabilities are the same through both', async () => {
    assert.deepEqual(await rpc.version(), await virsh.version());
    assert.match((await rpc.version()).daemon ?? '', /^\d+\.\d+\.\d+$/);
    assert.equal((await rpc.domainCapabilities(config.domain_type, config.machine)).trim(), (await virsh.domainCapabilities(config.domain_type, config.machine)).trim());
  });

  test("a root server acting for the owner: the worker, started as the owner, sees what virsh as the owner sees", async () => {
    const actor = await actorForUser(runCommand, OWNER, 'http');
    const viaRpc = actorHv(createContext(rpcConfig, 'test', actor));
    const viaVirsh = actorHv(createContext(virshConfig, 'test', actor));
    assert.ok(viaRpc instanceof Object);
    const a = byName(await viaRpc.list());
    assert.deepEqual(a, [{ name: OWNED, state: 'shut off' }], 'polkit shows the owner only their own domain');
    assert.deepEqual(a, byName(await viaVirsh.list()));
    assert.equal((await viaRpc.dumpXml(OWNED, { inactive: true })).trim(), (await viaVirsh.dumpXml(OWNED, { inactive: true })).trim());
    // another's domain is, for the owner, no such domain, on both
    for (const hv of [viaRpc, viaVirsh]) {
      const e = await err(hv.dumpXml(RUNNING));
      assert.ok(isNoDomain(e) && e instanceof RaptorError && e.kind === 'not-found', String(e));
    }
  });

  test("an outsider's connection is refused by polkit with the same error class on both (exit-code kind not-allowed)", async () => {
    const outsider = await actorForUser(runCommand, 'nobody', 'http');
    for (const cfg of [rpcConfig, virshConfig]) {
      const e = await err(actorHv(createContext(cfg, 'test', outsider)).list());
      assert.ok(isAuthFailure(e) && e instanceof RaptorError && e.kind === 'not-allowed', `${cfg.libvirt_client}: ${String(e)}`);
    }
  });
});
