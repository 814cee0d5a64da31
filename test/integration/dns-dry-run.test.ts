// A dry run asks the DNS server too: where the real create is refused for data raptor did not
// write, `vm create --dry-run` is refused the same way (exit 3, nothing changed), and with --force
// its plan shows the exact UPDATEs that would replace that data.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nsupdate } from './lib/dns-servers.ts';
import { cleanup, dnsAnswers, hostSnapshot, loadTestConfig, raptor, testConfigPath } from './lib/raptor.ts';

describe('vm create --dry-run and DNS', () => {
  const cfgPath = testConfigPath();
  const config = loadTestConfig(cfgPath);
  const id = 'dnsdry-web';
  const fqdn = `${id}.${config.dns.zone}`;
  const FOREIGN = '198.51.100.250';
  const args = (...extra: string[]) => ['vm', 'create', id, '--cpus', '1', '--memory', '128M', '--disk', '32M', '--bridge', 'br-vm5', ...extra];
  const r = (a: string[]) => raptor(a, { config: cfgPath });
  const dropForeign = () => nsupdate(config.dns.port, config.dns.tsig_key_file, [`update delete ${fqdn}. A ${FOREIGN}`]);

  before(() => {
    cleanup(config, [id]);
    nsupdate(config.dns.port, config.dns.tsig_key_file, [`update add ${fqdn}. 300 A ${FOREIGN}`]);
  });
  after(() => {
    dropForeign();
    cleanup(config, [id]);
  });

  test('foreign data at the name: the dry run is refused like the real create (exit 3), nothing changed', async () => {
    const before = hostSnapshot(config);
    const dry = await r(args('--dry-run'));
    assert.equal(dry.code, 3, dry.stderr);
    assert.match(dry.stderr, new RegExp(`^raptor: DNS records for ${id} conflict with data raptor did not write: ${fqdn.replace(/\./g, '\\.')} A holds ${FOREIGN}.*\\(--force replaces them\\)\\n$`));
    assert.equal(dry.stdout, '', 'no plan printed');
    const json = await r(['--json', ...args('--dry-run')]);
    assert.equal(json.code, 3);
    assert.equal((json.json as { error: { code: string } }).error.code, 'conflict');
    const real = await r(args());
    assert.equal(real.code, 3, real.stderr);
    assert.equal(real.stderr, dry.stderr, 'the same refusal');
    assert.equal(hostSnapshot(config), before);
    assert.deepEqual(dnsAnswers(config, fqdn, 'A'), [FOREIGN]);
  });

  test('with --force the dry run shows the exact UPDATE that replaces the foreign address, and changes nothing', async () => {
    const before = hostSnapshot(config);
    const dry = await r(['--json', ...args('--dry-run', '--force')]);
    assert.equal(dry.code, 0, dry.stderr);
    const steps = (dry.json as { steps: { kind: string; commands: string[] }[] }).steps;
    const dns = steps.find((s) => s.kind === 'dns-add');
    assert.ok(dns, steps.map((s) => s.kind).join(' '));
    for (const line of [`prereq yxrrset ${fqdn}. IN A ${FOREIGN}`, `update delete ${fqdn}. IN A`, `update add ${fqdn}. 300 IN A 198.51.100.15`]) {
      assert.ok(dns.commands.includes(line), `${line} missing from:\n${dns.commands.join('\n')}`);
    }
    assert.equal(hostSnapshot(config), before);
    assert.deepEqual(dnsAnswers(config, fqdn, 'A'), [FOREIGN]);
  });

  test('without the foreign data the dry run passes and plans the records as absent-then-added', async () => {
    dropForeign();
    const dry = await r(['--json', ...args('--dry-run')]);
    assert.equal(dry.code, 0, dry.stderr);
    const dns = (dry.json as { steps: { kind: string; commands: string[] }[] }).steps.find((s) => s.kind === 'dns-add');
    assert.ok(dns?.commands.includes(`prereq nxrrset ${fqdn}. IN A`), dns?.commands.join('\n'));
    assert.deepEqual(dnsAnswers(config, fqdn, 'A'), []);
  });
});
