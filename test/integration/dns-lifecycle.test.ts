// DNS through raptor's commands, against the sandbox's BIND and against Knot: vm create publishes
// A, AAAA and both PTRs, destroy removes exactly them, dns sync repairs hand-made damage, and
// conflicts or DNS failures refuse the create with nothing changed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dig as digAt, freePort, nsupdate, startServer, type RunningServer } from './lib/dns-servers.ts';
import { cleanup, hostSnapshot, loadTestConfig, raptor, testConfigPath } from './lib/raptor.ts';

const PTR4 = '13.100.51.198.in-addr.arpa';
const PTR6 = '3.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa';

for (const kind of ['bind', 'knot'] as const) {
  describe(`DNS in the VM lifecycle: ${kind}`, () => {
    const base = testConfigPath();
    let server: RunningServer | undefined;
    let cfgPath = base;
    let port = 0;
    let keyFile = '';
    const vms = ['dnsa-web', 'dnsb-web'];
    const config = loadTestConfig(base);

    /** A copy of the test config with other [dns] values. */
    const withDns = (p: number, key: string, name: string): string => {
      const path = `${base}.${kind}.${name}.toml`;
      writeFileSync(path, readFileSync(base, 'utf8').replace(/^port = \d+$/m, `port = ${p}`).replace(/^tsig_key_file = .*$/m, `tsig_key_file = "${key}"`));
      return path;
    };
    const r = (args: string[], path = cfgPath) => raptor(args, { config: path });
    const dig = (name: string, type: string): string[] => digAt(port, name, type);

    before(async () => {
      if (kind === 'knot') {
        server = await startServer('knot', await freePort());
        port = server.port;
        keyFile = server.keyFile;
        cfgPath = withDns(port, keyFile, 'ok');
      } else {
        port = config.dns.port;
        keyFile = config.dns.tsig_key_file;
      }
      cleanup(config, vms);
    });
    after(async () => {
      cleanup(config, vms);
      await server?.stop();
    });

    test('create publishes A, AAAA and both PTRs; dns show agrees', async () => {
      const c = await r(['vm', 'create', 'dnsa-web', '--cpus', '1', '--memory', '128M', '--disk', '32M', '--bridge', 'br-vm3']);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual(dig('dnsa-web.raptor.test', 'A'), ['198.51.100.13']);
      assert.deepEqual(dig('dnsa-web.raptor.test', 'AAAA'), ['2001:db8::13']);
      assert.deepEqual(dig(PTR4, 'PTR'), ['dnsa-web.raptor.test.']);
      assert.deepEqual(dig(PTR6, 'PTR'), ['dnsa-web.raptor.test.']);
      const show = await r(['dns', 'show', 'dnsa-web', '--json']);
      const rows = show.json as { type: string; values: string[]; expected: string[] }[];
      assert.equal(rows.length, 4);
      for (const row of rows) assert.deepEqual(row.values, row.expected, row.type);
    });

    test('dns sync repairs a record deleted by hand and a PTR altered by hand; --dry-run only shows', async () => {
      nsupdate(port, keyFile, ['update delete dnsa-web.raptor.test. A']);
      nsupdate(port, keyFile, [`update delete ${PTR4}. PTR`, `update add ${PTR4}. 300 PTR someone-else.raptor.test.`], '100.51.198.in-addr.arpa');
      assert.deepEqual(dig('dnsa-web.raptor.test', 'A'), []);
      const dry = await r(['dns', 'sync', '--dry-run', '--json']);
      assert.equal(dry.code, 0, dry.stderr);
      const changes = (dry.json as { changes: string[] }).changes;
      assert.ok(changes.some((c) => /dnsa-web\.raptor\.test.* A/.test(c)), changes.join('\n'));
      assert.ok(changes.some((c) => c.includes(PTR4)), changes.join('\n'));
      assert.deepEqual(dig('dnsa-web.raptor.test', 'A'), [], 'dry run changed nothing');
      const sync = await r(['dns', 'sync']);
      assert.equal(sync.code, 0, sync.stderr);
      assert.deepEqual(dig('dnsa-web.raptor.test', 'A'), ['198.51.100.13']);
      assert.deepEqual(dig(PTR4, 'PTR'), ['dnsa-web.raptor.test.']);
      const again = await r(['dns', 'sync', '--json']);
      assert.deepEqual((again.json as { changes: string[] }).changes, [], 'a second sync has nothing to do');
    });

    test('a name holding data raptor did not write: exit 3, nothing changed; --force replaces it', async () => {
      nsupdate(port, keyFile, ['update add dnsb-web.raptor.test. 300 A 198.51.100.200']);
      const before = hostSnapshot(config);
      const refused = await r(['vm', 'create', 'dnsb-web', '--cpus', '1', '--memory', '128M', '--disk', '32M', '--bridge', 'br-vm2']);
      assert.equal(refused.code, 3, refused.stderr);
      assert.match(refused.stderr, /dnsb-web\.raptor\.test/);
      assert.equal(hostSnapshot(config), before);
      assert.deepEqual(dig('dnsb-web.raptor.test', 'A'), ['198.51.100.200']);
    });

    test('wrong key and server down: one clear line naming server and zone, exit code, nothing changed', async () => {
      const before = hostSnapshot(config);
      // the same key name with another secret: the server must reject the signature
      const wrongKey = `${base}.${kind}.wrong.key`;
      const keyName = /key\s+"([^"]+)"/.exec(readFileSync(keyFile, 'utf8'))![1]!;
      writeFileSync(wrongKey, `key "${keyName}" { algorithm hmac-sha256; secret "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; };\n`, { mode: 0o600 });
      const bad = await r(['vm', 'create', 'dnsb-web', '--cpus', '1', '--memory', '128M', '--disk', '32M', '--bridge', 'br-vm2', '--force'], withDns(port, wrongKey, 'wrongkey'));
      assert.equal(bad.code, 5, bad.stderr);
      assert.match(bad.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(bad.stderr, /raptor\.test|in-addr\.arpa|ip6\.arpa/);
      assert.equal(bad.stderr.trim().split('\n').length, 1);
      assert.equal(hostSnapshot(config), before);
      const down = await r(['vm', 'create', 'dnsb-web', '--cpus', '1', '--memory', '128M', '--disk', '32M', '--bridge', 'br-vm2', '--force'], withDns(await freePort(), keyFile, 'down'));
      assert.equal(down.code, 1, down.stderr);
      assert.match(down.stderr, /127\.0\.0\.1:\d+ unreachable/);
      assert.equal(hostSnapshot(config), before);
    });

    test('--force replaces the foreign data; destroy removes exactly the four records', async () => {
      const forced = await r(['vm', 'create', 'dnsb-web', '--cpus', '1', '--memory', '128M', '--disk', '32M', '--bridge', 'br-vm2', '--force']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.deepEqual(dig('dnsb-web.raptor.test', 'A'), ['198.51.100.12']);
      nsupdate(port, keyFile, ['update add dnsa-web.raptor.test. 300 TXT "an admin note"']);
      for (const vm of vms) {
        const d = await r(['vm', 'destroy', vm, '--yes']);
        assert.equal(d.code, 0, d.stderr);
      }
      for (const [name, type] of [['dnsa-web.raptor.test', 'A'], ['dnsa-web.raptor.test', 'AAAA'], [PTR4, 'PTR'], [PTR6, 'PTR'], ['dnsb-web.raptor.test', 'A']] as const) {
        assert.deepEqual(dig(name, type), [], `${name} ${type} left`);
      }
      assert.deepEqual(dig('dnsa-web.raptor.test', 'TXT'), ['"an admin note"'], 'data raptor did not write stays');
      nsupdate(port, keyFile, ['update delete dnsa-web.raptor.test. TXT']);
    });
  });
}
