// Crash safety: SIGKILL raptor right after each step of create and of destroy, rerun, and prove the
// host converges with no orphan (domain, NVRAM file, LV, DNS record). Also: parallel creates queue.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDomainXml } from '../../src/libvirt/domain-xml.ts';
import { cleanup, dnsAnswers, dumpxml, loadTestConfig, lvList, nvramFiles, raptor, seedFiles, sh, testConfigPath, virshNames } from './lib/raptor.ts';

describe('crash safety and the host lock', () => {
  const cfgPath = testConfigPath();
  const config = loadTestConfig(cfgPath);
  const id = 'crash-vm';
  const r = (args: string[], env?: Record<string, string>) => raptor(args, { config: cfgPath, ...(env ? { env } : {}) });
  const create = (env?: Record<string, string>) => r(['vm', 'create', id, '--cpus', '1', '--memory', '128M', '--disk', '32M', '--bridge', 'br-vm4', '--start'], env);
  const destroy = (env?: Record<string, string>) => r(['vm', 'destroy', id, '--yes'], env);

  const assertNothingLeft = async (what: string) => {
    assert.ok(!virshNames().includes(id), `${what}: domain left`);
    assert.ok(!nvramFiles(config).includes(`${id}_VARS.fd`), `${what}: NVRAM left`);
    assert.ok(!lvList(config).some((l) => l.name === `guest-${id}`), `${what}: LV left`);
    assert.ok(!seedFiles(config).includes(`${id}-cidata.img`), `${what}: cloud-init seed left`);
    assert.deepEqual(dnsAnswers(config, `${id}.${config.dns.zone}`, 'A'), [], `${what}: A record left`);
    assert.deepEqual(dnsAnswers(config, `${id}.${config.dns.zone}`, 'AAAA'), [], `${what}: AAAA record left`);
    assert.deepEqual(dnsAnswers(config, '14.100.51.198.in-addr.arpa', 'PTR'), [], `${what}: PTR record left`);
  };
  const assertComplete = async (what: string) => {
    assert.ok(virshNames().includes(id), `${what}: no domain`);
    const lv = lvList(config).find((l) => l.name === `guest-${id}`);
    assert.ok(lv && !lv.tags.includes('raptor_creating'), `${what}: LV missing or unfinished`);
    const parsed = parseDomainXml(dumpxml(id));
    assert.equal(parsed.interfaces[0]?.bridge, 'br-vm4');
    assert.equal(parsed.seed, `${config.seed_dir}/${id}-cidata.img`, `${what}: seed not attached`);
    assert.ok(seedFiles(config).includes(`${id}-cidata.img`), `${what}: seed missing`);
    assert.deepEqual(dnsAnswers(config, `${id}.${config.dns.zone}`, 'A'), ['198.51.100.14'], `${what}: A record`);
  };

  before(() => cleanup(config, [id, 'par-one', 'par-two']));
  after(() => cleanup(config, [id, 'par-one', 'par-two']));

  for (const step of ['lv-create', 'seed-write', 'domain-define', 'dns-add', 'domain-start', 'lv-untag']) {
    test(`killed after create step ${step}: a rerun finishes the create, destroy leaves nothing`, async () => {
      const killed = await create({ RAPTOR_FAILPOINT: `after:${step}` });
      assert.equal(killed.signal, 'SIGKILL', `failpoint did not fire: ${killed.stderr}`);
      const rerun = await create();
      // killed after the last step, the create had finished: the rerun finds the VM (exit 3)
      assert.equal(rerun.code, step === 'lv-untag' ? 3 : 0, rerun.stderr);
      await assertComplete(`after ${step}`);
      const d = await destroy();
      assert.equal(d.code, 0, d.stderr);
      await assertNothingLeft(`create killed after ${step}`);
    });
  }

  for (const step of ['dns-remove', 'domain-undefine', 'domain-stop', 'seed-remove', 'lv-wipe', 'lv-remove']) {
    test(`killed after destroy step ${step}: a rerun finishes the destroy`, async () => {
      const c = await create();
      assert.equal(c.code, 0, c.stderr);
      const killed = await destroy({ RAPTOR_FAILPOINT: `after:${step}` });
      assert.equal(killed.signal, 'SIGKILL', `failpoint did not fire: ${killed.stderr}`);
      // killed after the undefine, the running domain is left transient: nothing its owner could start
      if (step === 'domain-undefine') assert.match(sh(['virsh', '-c', 'qemu:///system', 'dominfo', id]), /^Persistent:\s+no$/m);
      const rerun = await destroy();
      // killed after the last step, there is nothing left to find: not found (4) is the right answer
      assert.equal(rerun.code, step === 'lv-remove' ? 4 : 0, rerun.stderr);
      await assertNothingLeft(`destroy killed after ${step}`);
    });
  }

  test('two creates at once queue on the lock and get distinct CPUs and bridges', async () => {
    const [a, b] = await Promise.all([
      r(['vm', 'create', 'par-one', '--cpus', '1', '--memory', '128M', '--disk', '32M', '--json']),
      r(['vm', 'create', 'par-two', '--cpus', '1', '--memory', '128M', '--disk', '32M', '--json']),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const pa = parseDomainXml(dumpxml('par-one'));
    const pb = parseDomainXml(dumpxml('par-two'));
    assert.equal(pa.vcpuPins.filter((c) => pb.vcpuPins.includes(c)).length, 0);
    assert.notEqual(pa.interfaces[0]!.bridge, pb.interfaces[0]!.bridge);
    const [da, db] = await Promise.all([r(['vm', 'destroy', 'par-one', '--yes']), r(['vm', 'destroy', 'par-two', '--yes'])]);
    assert.equal(da.code, 0, da.stderr);
    assert.equal(db.code, 0, db.stderr);
  });
});
