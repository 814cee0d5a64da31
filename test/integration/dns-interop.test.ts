// raptor's RFC 2136 + TSIG client against real servers: BIND 9 and Knot DNS, each started here on
// a loopback port with the raptor zones and an update ACL on one TSIG key. dig checks the results.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig, type Config } from '../../src/core/config.ts';
import { isRaptorError } from '../../src/core/errors.ts';
import { DnsClient } from '../../src/dns/client.ts';
import { addVmRecords, loadTsigKey, openDns, planDnsSync, removeVmRecords, syncDns } from '../../src/dns/service.ts';
import { dig, freePort, hasBind, hasKnot, KEY_SECRET, nsupdate, soaSerial, startServer, ZONE, REVERSE4, REVERSE6, type RunningServer, type ServerKind } from './lib/dns-servers.ts';

const PORTS: Record<ServerKind, number> = { bind: 5391, knot: 5392 };
const alice = { vmId: 'alice-web', fqdn: `alice-web.${ZONE}`, ipv4: '198.51.100.11', ipv6: '2001:db8::11' };
const PTR4 = '11.100.51.198.in-addr.arpa';
const PTR6 = '1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa';

function configFor(server: RunningServer, dns: Record<string, unknown> = {}): Config {
  return resolveConfig({
    dns: { server: '127.0.0.1', port: server.port, zone: ZONE, ttl: 300, tsig_key_file: server.keyFile, ...dns },
    bridges: [1, 2, 3].map((n) => ({ name: `br-vm${n}`, ipv4: `198.51.100.1${n}`, ipv6: `2001:db8::1${n}` })),
  });
}

/** Everything dig sees of alice's four records. */
function aliceSeen(port: number) {
  return {
    a: dig(port, alice.fqdn, 'A'),
    aaaa: dig(port, alice.fqdn, 'AAAA'),
    ptr4: dig(port, PTR4, 'PTR'),
    ptr6: dig(port, PTR6, 'PTR'),
  };
}
const ALICE = { a: ['198.51.100.11'], aaaa: ['2001:db8::11'], ptr4: [`${alice.fqdn}.`], ptr6: [`${alice.fqdn}.`] };
const NOTHING = { a: [], aaaa: [], ptr4: [], ptr6: [] };

const serials = (port: number) => [ZONE, REVERSE4, REVERSE6].map((z) => soaSerial(port, z));

/** Assert a one-line RaptorError of `kind` that names the server, matches `pattern` and holds no secret. */
function clearError(kind: string, server: RunningServer, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(isRaptorError(err), String(err));
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, pattern);
    assert.ok(err.message.includes(`127.0.0.1:${server.port}`), `names the server: ${err.message}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.ok(!err.message.includes(KEY_SECRET.slice(0, 12)), 'no secret');
    return true;
  };
}

for (const kind of ['bind', 'knot'] as const) {
  // scripts/sandbox up installs both servers, so a missing one is a failure, not a skip
  describe(`DNS interop: ${kind}`, () => {
    before(() => assert.ok(kind === 'bind' ? hasBind() : hasKnot(), `${kind} is not installed (scripts/sandbox up installs it)`));
    let server: RunningServer;
    let config: Config;
    let dns: DnsClient;

    before(async () => {
      server = await startServer(kind, PORTS[kind]);
      config = configFor(server);
      dns = await openDns(config);
    });
    after(async () => {
      await server?.stop();
    });

    test('add: dig answers A, AAAA and both PTRs; a rerun changes nothing', async () => {
      const result = await addVmRecords(dns, config, alice);
      assert.equal(result.applied.length, 3);
      assert.deepEqual(aliceSeen(server.port), ALICE);
      const before = serials(server.port);
      const again = await addVmRecords(dns, config, alice);
      assert.equal(again.applied.length, 0);
      assert.deepEqual(serials(server.port), before);
    });

    test('remove deletes exactly those four records and leaves the rest of the zone', async () => {
      nsupdate(server.port, server.keyFile, [`update add ${alice.fqdn} 300 TXT "kept"`]);
      await removeVmRecords(dns, config, alice);
      assert.deepEqual(aliceSeen(server.port), NOTHING);
      assert.deepEqual(dig(server.port, alice.fqdn, 'TXT'), ['"kept"']);
      assert.deepEqual(dig(server.port, `other.${ZONE}`, 'A'), ['198.51.100.200']);
      assert.deepEqual(dig(server.port, `ns.${ZONE}`, 'A'), ['127.0.0.1']);
      nsupdate(server.port, server.keyFile, [`update delete ${alice.fqdn} TXT`]);
      await removeVmRecords(dns, config, alice); // nothing left to remove: no error
    });

    test('conflict: a name holding other data stops the add, exit-3 kind, zones unchanged; force replaces it', async () => {
      const carol = { vmId: 'carol-db', fqdn: `carol-db.${ZONE}`, ipv4: '198.51.100.12', ipv6: '2001:db8::12' };
      nsupdate(server.port, server.keyFile, [`update add ${carol.fqdn} 300 A 198.51.100.99`]);
      const before = serials(server.port);
      await assert.rejects(addVmRecords(dns, config, carol), (err) => {
        assert.ok(isRaptorError(err, 'conflict'));
        assert.equal(err.exitCode, 3);
        assert.match(err.message, /carol-db\.raptor\.test A holds 198\.51\.100\.99 \(raptor would write 198\.51\.100\.12\); nothing changed/);
        return true;
      });
      assert.deepEqual(serials(server.port), before);
      assert.deepEqual(dig(server.port, carol.fqdn, 'A'), ['198.51.100.99']);
      assert.deepEqual(dig(server.port, carol.fqdn, 'AAAA'), []);

      await addVmRecords(dns, config, carol, { force: true });
      assert.deepEqual(dig(server.port, carol.fqdn, 'A'), ['198.51.100.12']);
      assert.deepEqual(dig(server.port, carol.fqdn, 'AAAA'), ['2001:db8::12']);
      assert.deepEqual(dig(server.port, '12.100.51.198.in-addr.arpa', 'PTR'), [`${carol.fqdn}.`]);
      await removeVmRecords(dns, config, carol);
      assert.deepEqual(dig(server.port, carol.fqdn, 'A'), []);
    });

    test('sync repairs a record deleted by hand, one altered by hand, and a destroyed VM left behind', async () => {
      const bob = { vmId: 'bob-old', fqdn: `bob-old.${ZONE}`, ipv4: '198.51.100.13', ipv6: '2001:db8::13' };
      await addVmRecords(dns, config, alice);
      await addVmRecords(dns, config, bob);
      nsupdate(server.port, server.keyFile, [`update delete ${alice.fqdn} AAAA 2001:db8::11`]);
      nsupdate(server.port, server.keyFile, [`update delete ${alice.fqdn} A`, `update add ${alice.fqdn} 300 A 198.51.100.77`]);
      assert.deepEqual(aliceSeen(server.port), { ...ALICE, a: ['198.51.100.77'], aaaa: [] });

      const before = serials(server.port);
      const plan = await planDnsSync(dns, config, [alice]); // bob is gone from the host
      assert.deepEqual(serials(server.port), before, 'planning changes nothing');
      assert.deepEqual(
        plan.changes.map((c) => `${c.kind} ${c.name} ${c.type}`),
        [
          `wrong ${alice.fqdn} A`,
          `missing ${alice.fqdn} AAAA`,
          'stale 13.100.51.198.in-addr.arpa PTR',
          `stale ${bob.fqdn} A`,
          `stale 3.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR`,
          `stale ${bob.fqdn} AAAA`,
        ],
      );
      await syncDns(dns, config, [alice]);
      assert.deepEqual(aliceSeen(server.port), ALICE);
      assert.deepEqual([dig(server.port, bob.fqdn, 'A'), dig(server.port, bob.fqdn, 'AAAA'), dig(server.port, '13.100.51.198.in-addr.arpa', 'PTR')], [[], [], []]);
      assert.deepEqual((await planDnsSync(dns, config, [alice])).changes, []);
      await removeVmRecords(dns, config, alice);
    });

    test('wrong key: a clear error naming server and zone, nothing changed', async () => {
      const before = serials(server.port);
      const wrongSecret = new DnsClient({ server: '127.0.0.1', port: server.port, key: await loadTsigKey(server.wrongKeyFile) });
      await assert.rejects(addVmRecords(wrongSecret, config, alice), clearError('not-allowed', server, /raptor\.test.*TSIG key raptor-key \(BADSIG\)/));
      await assert.rejects(
        wrongSecret.update(ZONE, { prerequisites: [], deletes: [], adds: [{ name: alice.fqdn, ttl: 300, rdata: { type: 'A', address: alice.ipv4 } }] }),
        clearError('not-allowed', server, /^DNS update of zone raptor\.test at 127\.0\.0\.1:\d+ rejected: the server does not accept the TSIG key raptor-key \(BADSIG\)$/),
      );
      const unknownKeyFile = join(server.dir, 'unknown.key');
      writeFileSync(unknownKeyFile, `key "nobody" { algorithm hmac-sha256; secret "${KEY_SECRET}"; };\n`);
      const unknownKey = new DnsClient({ server: '127.0.0.1', port: server.port, key: await loadTsigKey(unknownKeyFile) });
      await assert.rejects(addVmRecords(unknownKey, config, alice), clearError('not-allowed', server, /raptor\.test.*TSIG key nobody \(BADKEY\)/));
      // a key that signs queries fine but the update ACL does not name
      const unsigned = new DnsClient({ server: '127.0.0.1', port: server.port });
      await assert.rejects(
        unsigned.update(ZONE, { prerequisites: [], deletes: [], adds: [{ name: alice.fqdn, ttl: 300, rdata: { type: 'A', address: alice.ipv4 } }] }),
        clearError('not-allowed', server, kind === 'bind' ? /^DNS update of zone raptor\.test at .* refused \(REFUSED\)$/ : /^DNS update of zone raptor\.test at .* serves zone raptor\.test but does not allow this update \(NOTAUTH\)$/),
      );
      assert.deepEqual(serials(server.port), before);
      assert.deepEqual(aliceSeen(server.port), NOTHING);
    });

    test('unknown zone: a clear error naming server and zone, nothing changed', async () => {
      const before = serials(server.port);
      const nosuch = configFor(server, { zone: 'nosuch.test' });
      await assert.rejects(
        addVmRecords(dns, nosuch, { ...alice, fqdn: 'alice-web.nosuch.test' }),
        clearError('conflict', server, /^DNS zone nosuch\.test is not served by 127\.0\.0\.1:\d+ \(no SOA for it there\); nothing changed$/),
      );
      // the client alone, without the zone check, says the same from the UPDATE's rcode
      await assert.rejects(
        dns.update('nosuch.test', { prerequisites: [], deletes: [], adds: [{ name: 'a.nosuch.test', ttl: 300, rdata: { type: 'A', address: alice.ipv4 } }] }),
        clearError('conflict', server, /^DNS update of zone nosuch\.test at .* refused: zone nosuch\.test is not served there \(NOTAUTH\)$/),
      );
      // an unserved reverse zone is caught before the forward zone is touched
      const badReverse = configFor(server, { reverse_zones: [REVERSE4, REVERSE6, `0.${REVERSE6}`] });
      await assert.rejects(addVmRecords(dns, badReverse, alice), clearError('conflict', server, /^DNS zone 0\.8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa is not served/));
      assert.deepEqual(serials(server.port), before);
      assert.deepEqual(aliceSeen(server.port), NOTHING);
    });

    test('server down: a clear error naming server and zone', async () => {
      const port = await freePort();
      const down = configFor({ ...server, port });
      const client = await openDns(down, { timeoutMs: 2000 });
      await assert.rejects(addVmRecords(client, down, alice), (err) => {
        assert.ok(isRaptorError(err, 'unexpected'));
        assert.equal(err.exitCode, 1);
        assert.equal(err.message, `DNS server 127.0.0.1:${port} unreachable (ECONNREFUSED), during query for raptor.test SOA`);
        return true;
      });
    });
  });
}
