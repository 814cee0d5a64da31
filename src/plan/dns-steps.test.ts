// DNS in create and destroy plans: the planner asks what it needs, then plans the exact UPDATEs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../core/config.ts';
import { RaptorError } from '../core/errors.ts';
import { parseDomainXml } from '../libvirt/domain-xml.ts';
import { Observation, type DnsAnswers } from '../dns/records.ts';
import { planCreate, planDestroy, type HostState } from './planner.ts';
import { stepCommands } from './steps.ts';

const GiB = 2 ** 30;
const config = parseConfigText(
  'domain_type = "qemu"\n[cpus]\nreserved = "0"\n[[bridges]]\nname = "br-vm1"\nipv4 = "198.51.100.11"\nipv6 = "2001:db8::11"\n[dns]\nzone = "raptor.test"\nreverse_zones = ["100.51.198.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa"]',
  't',
);
const now = new Date('2026-11-26T12:00:00Z');
const host = (): HostState => ({ hostCpus: [0, 1, 2, 3], domains: [], vg: { name: 'lvm-data', sizeBytes: 10 * GiB, freeBytes: 10 * GiB, extentBytes: 4 * 2 ** 20 }, lvs: [] });
const req = { vm: { user: 'alice', name: 'web' }, uuid: '11111111-2222-4333-8444-555555555555', cpus: 1, memoryBytes: 512 * 2 ** 20, diskBytes: GiB };
const FQDN = 'alice-web.raptor.test';
const PTR4 = '11.100.51.198.in-addr.arpa';
const PTR6 = '1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa';
const conflict = (re: RegExp) => (e: unknown) => e instanceof RaptorError && e.kind === 'conflict' && re.test(e.message);

/** Answers where the VM's names hold `over` (defaults: nothing). */
function answers(over: { a?: string[]; cname?: string[]; ptr4?: string[] } = {}, unserved: string[] = []): DnsAnswers {
  const observed = new Observation()
    .set(FQDN, 'A', over.a ?? [])
    .set(FQDN, 'CNAME', over.cname ?? [])
    .set(FQDN, 'AAAA', [])
    .set(PTR4, 'PTR', over.ptr4 ?? [])
    .set(PTR6, 'PTR', []);
  return { endpoint: '127.0.0.1:53', unserved, observed };
}

test('create without DNS answers asks for the zones and RRsets of the bridge it picked, and has no DNS step yet', () => {
  const p = planCreate(config, req, host(), now);
  assert.deepEqual(p.dnsQuestions?.zones, ['raptor.test', '100.51.198.in-addr.arpa', '8.b.d.0.1.0.0.2.ip6.arpa']);
  assert.deepEqual(p.dnsQuestions?.refs.map((r) => `${r.name} ${r.type}`), [`${FQDN} A`, `${FQDN} AAAA`, `${PTR4} PTR`, `${PTR6} PTR`]);
  assert.ok(!p.steps.some((s) => s.kind === 'dns-add'));
  // no network: nothing to ask
  assert.equal(planCreate(config, { ...req, noNetwork: true }, host(), now).dnsQuestions, undefined);
});

test('create with answers plans the exact UPDATEs (and their undo); the commands show them', () => {
  const p = planCreate(config, req, { ...host(), dns: answers() }, now);
  assert.equal(p.dnsQuestions, undefined);
  assert.deepEqual(p.steps.map((s) => s.kind), ['lv-create', 'domain-define', 'dns-add', 'lv-untag']);
  const dns = p.steps[2]!;
  assert.ok(dns.kind === 'dns-add');
  assert.deepEqual(dns.updates.map((u) => u.zone), ['raptor.test', '100.51.198.in-addr.arpa', '8.b.d.0.1.0.0.2.ip6.arpa']);
  assert.deepEqual(dns.updates[0]!.request.prerequisites, [{ kind: 'rrset-absent', name: FQDN, type: 1 }, { kind: 'rrset-absent', name: FQDN, type: 28 }]);
  assert.deepEqual(dns.undo.map((u) => u.zone), ['8.b.d.0.1.0.0.2.ip6.arpa', '100.51.198.in-addr.arpa', 'raptor.test']);
  const cmds = stepCommands(dns, 'qemu:///system');
  assert.ok(cmds.includes(`prereq nxrrset ${FQDN}. IN A`), cmds.join('\n'));
  assert.ok(cmds.includes(`update add ${FQDN}. 300 IN A 198.51.100.11`), cmds.join('\n'));
  assert.ok(cmds.includes(`update add ${PTR4}. 300 IN PTR ${FQDN}.`), cmds.join('\n'));
  assert.equal(cmds.filter((c) => c === 'send').length, 3);
});

test('create: foreign data at the names is a conflict (exit 3) without --force; --force plans its replacement', () => {
  const foreign = { ...host(), dns: answers({ a: ['198.51.100.200'] }) };
  assert.throws(() => planCreate(config, req, foreign, now), conflict(/^DNS records for alice-web conflict with data raptor did not write: alice-web\.raptor\.test A holds 198\.51\.100\.200 .*nothing changed \(--force replaces them\)$/));
  const cname = { ...host(), dns: answers({ cname: ['elsewhere.example'] }) };
  assert.throws(() => planCreate(config, req, cname, now), conflict(/is a CNAME for elsewhere\.example/));
  const forced = planCreate(config, { ...req, force: true }, foreign, now).steps.find((s) => s.kind === 'dns-add');
  assert.ok(forced?.kind === 'dns-add' && forced.force);
  const fwd = forced.updates[0]!.request;
  assert.deepEqual(fwd.prerequisites[0], { kind: 'rrset-equals', name: FQDN, type: 1, rdata: [{ type: 'A', address: '198.51.100.200' }] });
  assert.deepEqual(fwd.deletes[0], { name: FQDN, type: 1 });
  // the undo puts the foreign address back
  assert.ok(forced.undo.at(-1)!.request.adds.some((a) => a.rdata.type === 'A' && a.rdata.address === '198.51.100.200'));
});

test('create: a zone the server does not serve is exit 3 naming it; records already in place need no step', () => {
  const unserved = { ...host(), dns: answers({}, ['100.51.198.in-addr.arpa']) };
  assert.throws(() => planCreate(config, req, unserved, now), conflict(/^DNS zone 100\.51\.198\.in-addr\.arpa is not served by 127\.0\.0\.1:53 \(no SOA for it there\); nothing changed$/));
  const done = answers();
  done.observed.set(FQDN, 'A', ['198.51.100.11']).set(FQDN, 'AAAA', ['2001:db8::11']).set(PTR4, 'PTR', [FQDN]).set(PTR6, 'PTR', [FQDN]);
  assert.ok(!planCreate(config, req, { ...host(), dns: done }, now).steps.some((s) => s.kind === 'dns-add'));
});

test('destroy deletes exactly the records that are there, one RR each; none there: no DNS step', () => {
  const made = planCreate(config, req, { ...host(), dns: answers() }, now);
  const lv = { name: 'guest-alice-web', vg: 'lvm-data', sizeBytes: GiB, path: '/dev/lvm-data/guest-alice-web', tags: [], open: false };
  const h: HostState = { ...host(), lvs: [lv], domains: [{ name: 'alice-web', state: 'shut off', parsed: parseDomainXml(made.xml) }] };
  assert.deepEqual(planDestroy(config, req.vm, h, 10).dnsQuestions?.zones, ['raptor.test', '100.51.198.in-addr.arpa', '8.b.d.0.1.0.0.2.ip6.arpa']);
  const some = answers({ a: ['198.51.100.11', '198.51.100.99'], ptr4: [FQDN] });
  const plan = planDestroy(config, req.vm, { ...h, dns: some }, 10);
  const dns = plan.steps[0]!;
  assert.ok(dns.kind === 'dns-remove');
  assert.deepEqual(dns.updates.map((u) => [u.zone, u.request.deletes]), [
    ['raptor.test', [{ name: FQDN, type: 1, rdata: { type: 'A', address: '198.51.100.11' } }]],
    ['100.51.198.in-addr.arpa', [{ name: PTR4, type: 12, rdata: { type: 'PTR', target: FQDN } }]],
  ]);
  assert.ok(stepCommands(dns, 'qemu:///system').includes(`update delete ${FQDN}. 300 IN A 198.51.100.11`));
  assert.equal(planDestroy(config, req.vm, { ...h, dns: answers() }, 10).steps[0]!.kind, 'domain-undefine');
});
