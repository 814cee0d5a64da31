// The service against an in-memory RFC 2136 server: read-back, undo of a half-done create, sync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../core/config.ts';
import { RaptorError, isRaptorError } from '../core/errors.ts';
import type { DnsRecord, DnsTransport, QueryType, UpdateRequest } from './client.ts';
import { addVmRecords, removeVmRecords, showVmRecords, syncDns, undoVmRecords } from './service.ts';
import { TYPE, normalizeName, rdataText, typeName, type Rdata } from './wire.ts';

const config = resolveConfig({
  dns: { zone: 'raptor.test' },
  bridges: [1, 2].map((n) => ({ name: `br-vm${n}`, ipv4: `198.51.100.1${n}`, ipv6: `2001:db8::1${n}` })),
});
const alice = { vmId: 'alice-web', fqdn: 'alice-web.raptor.test', ipv4: '198.51.100.11', ipv6: '2001:db8::11' };
const PTR4 = '11.100.51.198.in-addr.arpa';

const rdataKey = (r: Rdata) => (r.type === 'PTR' || r.type === 'CNAME' ? normalizeName(r.target) : rdataText(r));

/** Enough of an RFC 2136 server: RRsets, prerequisites, deletes, adds; failures and lies on demand. */
class FakeDns implements DnsTransport {
  readonly endpoint = '127.0.0.1:53';
  readonly rrsets = new Map<string, Rdata[]>();
  updates: string[] = [];
  failZone: string | undefined;
  ignoreUpdates = false;

  constructor(zones = ['raptor.test', '100.51.198.in-addr.arpa', '8.b.d.0.1.0.0.2.ip6.arpa']) {
    const soa = { type: 'SOA', mname: 'ns.raptor.test', rname: 'hostmaster.raptor.test', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 } as const;
    for (const z of zones) this.put(z, 'SOA', [soa]);
  }

  put(name: string, type: keyof typeof TYPE, rdata: Rdata[]) {
    this.rrsets.set(`${normalizeName(name)} ${TYPE[type]}`, rdata);
  }
  dump(): string[] {
    return [...this.rrsets].filter(([k]) => !k.endsWith(` ${TYPE.SOA}`)).flatMap(([k, rs]) => rs.map((r) => `${k.split(' ')[0]} ${typeName(Number(k.split(' ')[1]))} ${rdataKey(r)}`)).sort();
  }
  async query(name: string, type: QueryType): Promise<DnsRecord[]> {
    const n = normalizeName(name);
    const out: DnsRecord[] = [];
    for (const t of [TYPE[type], TYPE.CNAME]) for (const rdata of this.rrsets.get(`${n} ${t}`) ?? []) out.push({ name: n, type: t, ttl: 300, rdata });
    return out;
  }
  async update(zone: string, req: UpdateRequest): Promise<void> {
    this.updates.push(zone);
    if (zone === this.failZone) throw new RaptorError('not-allowed', `DNS update of zone ${zone} at ${this.endpoint} refused (REFUSED)`);
    for (const p of req.prerequisites) {
      const have = p.kind === 'name-in-use' || p.kind === 'name-absent' ? [] : (this.rrsets.get(`${normalizeName(p.name)} ${p.type}`) ?? []);
      const ok =
        p.kind === 'rrset-absent' ? have.length === 0 : p.kind === 'rrset-exists' ? have.length > 0 : p.kind === 'rrset-equals' ? have.map(rdataKey).sort().join() === p.rdata.map(rdataKey).sort().join() : true;
      if (!ok) throw new RaptorError('conflict', `DNS update of zone ${zone} at ${this.endpoint} not applied (YXRRSET)`);
    }
    if (this.ignoreUpdates) return;
    for (const d of req.deletes) {
      const k = `${normalizeName(d.name)} ${d.type}`;
      const left = d.rdata ? (this.rrsets.get(k) ?? []).filter((r) => rdataKey(r) !== rdataKey(d.rdata!)) : [];
      if (left.length) this.rrsets.set(k, left);
      else this.rrsets.delete(k);
    }
    for (const a of req.adds) {
      const k = `${normalizeName(a.name)} ${TYPE[a.rdata.type as keyof typeof TYPE]}`;
      const have = this.rrsets.get(k) ?? [];
      if (!have.some((r) => rdataKey(r) === rdataKey(a.rdata))) this.rrsets.set(k, [...have, a.rdata]);
    }
  }
}

const ALICE_RECORDS = [
  `${PTR4} PTR alice-web.raptor.test`,
  '1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR alice-web.raptor.test',
  'alice-web.raptor.test A 198.51.100.11',
  'alice-web.raptor.test AAAA 2001:db8::11',
].sort();

test('add writes the four records, reads them back; a rerun sends nothing; remove takes exactly them away', async () => {
  const dns = new FakeDns();
  dns.put('other.raptor.test', 'A', [{ type: 'A', address: '198.51.100.11' }]);
  const added = await addVmRecords(dns, config, alice);
  assert.deepEqual(dns.dump(), [...ALICE_RECORDS, 'other.raptor.test A 198.51.100.11'].sort());
  assert.equal(added.applied.length, 3);
  dns.updates = [];
  await addVmRecords(dns, config, alice);
  assert.deepEqual(dns.updates, []);
  const shown = await showVmRecords(dns, config, alice);
  assert.deepEqual(shown.map((s) => [s.type, s.values]), [['A', ['198.51.100.11']], ['AAAA', ['2001:db8::11']], ['PTR', ['alice-web.raptor.test']], ['PTR', ['alice-web.raptor.test']]]);
  await removeVmRecords(dns, config, alice);
  assert.deepEqual(dns.dump(), ['other.raptor.test A 198.51.100.11']);
});

test('a failure in a later zone undoes the earlier zones, and the error is the server one', async () => {
  const dns = new FakeDns();
  dns.failZone = '8.b.d.0.1.0.0.2.ip6.arpa';
  await assert.rejects(addVmRecords(dns, config, alice), (e) => isRaptorError(e, 'not-allowed') && /zone 8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa .* refused/.test(e.message));
  assert.deepEqual(dns.dump(), []);
  assert.deepEqual(dns.updates, ['raptor.test', '100.51.198.in-addr.arpa', '8.b.d.0.1.0.0.2.ip6.arpa', '100.51.198.in-addr.arpa', 'raptor.test']);
});

test('a conflict changes nothing; force replaces and its undo restores the old data', async () => {
  const dns = new FakeDns();
  dns.put('alice-web.raptor.test', 'A', [{ type: 'A', address: '198.51.100.99' }]);
  await assert.rejects(addVmRecords(dns, config, alice), (e) => isRaptorError(e, 'conflict'));
  assert.deepEqual(dns.updates, []);
  const added = await addVmRecords(dns, config, alice, { force: true });
  assert.deepEqual(dns.dump(), ALICE_RECORDS);
  await undoVmRecords(dns, added);
  assert.deepEqual(dns.dump(), ['alice-web.raptor.test A 198.51.100.99']);
});

test('a server that acknowledges but does not apply fails the read-back', async () => {
  const dns = new FakeDns();
  dns.ignoreUpdates = true;
  await assert.rejects(addVmRecords(dns, config, alice), (e) => isRaptorError(e, 'unexpected') && /^DNS read-back of zone raptor\.test at 127\.0\.0\.1:53 after the update: alice-web\.raptor\.test A is empty, expected 198\.51\.100\.11/.test(e.message));
});

test('sync repairs a deleted record, an altered one and the leftovers of a VM that is gone; dry-run changes nothing', async () => {
  const dns = new FakeDns();
  await addVmRecords(dns, config, alice);
  await addVmRecords(dns, config, { vmId: 'bob-old', fqdn: 'bob-old.raptor.test', ipv4: '198.51.100.12' });
  dns.rrsets.delete(`alice-web.raptor.test ${TYPE.AAAA}`);
  dns.put(PTR4, 'PTR', [{ type: 'PTR', target: 'somewhere.raptor.test' }]);
  const before = dns.dump();
  const dry = await syncDns(dns, config, [alice], { dryRun: true });
  assert.deepEqual(dns.dump(), before);
  assert.deepEqual(dry.changes.map((c) => `${c.kind} ${c.name} ${c.type}`), [
    'missing alice-web.raptor.test AAAA',
    `wrong ${PTR4} PTR`,
    'stale 12.100.51.198.in-addr.arpa PTR',
    'stale bob-old.raptor.test A',
  ]);
  await syncDns(dns, config, [alice]);
  assert.deepEqual(dns.dump(), ALICE_RECORDS);
  assert.deepEqual((await syncDns(dns, config, [alice], { dryRun: true })).changes, []);
});

test('a zone the server does not serve fails before any query of records or any update', async () => {
  const dns = new FakeDns(['raptor.test', '100.51.198.in-addr.arpa']);
  await assert.rejects(addVmRecords(dns, config, alice), (e) => isRaptorError(e, 'conflict') && e.message === 'DNS zone 8.b.d.0.1.0.0.2.ip6.arpa is not served by 127.0.0.1:53 (no SOA for it there); nothing changed');
  assert.deepEqual(dns.updates, []);
});
