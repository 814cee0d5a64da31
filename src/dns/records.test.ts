import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../core/config.ts';
import { isRaptorError } from '../core/errors.ts';
import {
  Observation,
  diffForSync,
  planAdd,
  planRemove,
  planSync,
  queriesForVm,
  recordLines,
  reverseZoneFor,
  syncFollowUpQueries,
  syncQueries,
  vmRecords,
  type VmRecordSet,
} from './records.ts';
import { TYPE } from './wire.ts';

const config = resolveConfig({
  dns: { zone: 'raptor.test.', ttl: 120 },
  bridges: [1, 2, 3].map((n) => ({ name: `br-vm${n}`, ipv4: `198.51.100.1${n}`, ipv6: `2001:db8::1${n}` })),
});
const alice = { vmId: 'alice-web', fqdn: 'alice-web.raptor.test', ipv4: '198.51.100.11', ipv6: '2001:DB8:0::11' };
const PTR4 = '11.100.51.198.in-addr.arpa';
const PTR6 = '1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa';
const REV4 = '100.51.198.in-addr.arpa';
const REV6 = '8.b.d.0.1.0.0.2.ip6.arpa';

/** An observation where every queried RRset is empty, then `set` overrides. */
function observed(refs: { name: string; type: 'A' | 'AAAA' | 'PTR' | 'CNAME' }[], set: [string, 'A' | 'AAAA' | 'PTR' | 'CNAME', string[]][] = []): Observation {
  const o = new Observation();
  for (const r of refs) {
    o.set(r.name, r.type, []);
    if (r.type === 'A' || r.type === 'AAAA') o.set(r.name, 'CNAME', []);
  }
  for (const [name, type, values] of set) o.set(name, type, values);
  return o;
}

test('vmRecords: A and AAAA at the FQDN, PTRs in the derived reverse zones, canonical values', () => {
  const set = vmRecords(config, alice);
  assert.deepEqual(set, {
    vmId: 'alice-web',
    fqdn: 'alice-web.raptor.test',
    ttl: 120,
    rrsets: [
      { zone: 'raptor.test', name: 'alice-web.raptor.test', type: 'A', values: ['198.51.100.11'] },
      { zone: 'raptor.test', name: 'alice-web.raptor.test', type: 'AAAA', values: ['2001:db8::11'] },
      { zone: REV4, name: PTR4, type: 'PTR', values: ['alice-web.raptor.test'] },
      { zone: REV6, name: PTR6, type: 'PTR', values: ['alice-web.raptor.test'] },
    ],
  });
  assert.deepEqual(recordLines(set), [
    'alice-web.raptor.test. 120 IN A 198.51.100.11',
    'alice-web.raptor.test. 120 IN AAAA 2001:db8::11',
    `${PTR4}. 120 IN PTR alice-web.raptor.test.`,
    `${PTR6}. 120 IN PTR alice-web.raptor.test.`,
  ]);
  const v4only = vmRecords(config, { vmId: 'bob-db', fqdn: 'bob-db.raptor.test.', ipv4: '198.51.100.12' });
  assert.deepEqual(
    v4only.rrsets.map((r) => [r.type, r.values]),
    [
      ['A', ['198.51.100.12']],
      ['AAAA', []],
      ['PTR', ['bob-db.raptor.test']],
    ],
  );
  assert.deepEqual(vmRecords(config, { vmId: 'bob-x', fqdn: 'bob-x.raptor.test' }).rrsets, []);
  assert.throws(() => vmRecords(config, { ...alice, fqdn: 'alice-web.example.org' }), /not a name in zone raptor\.test/);
  assert.throws(() => vmRecords(config, { ...alice, ipv4: '2001:db8::1' }), /is an IPv6 address/);
  assert.throws(() => vmRecords(config, { ...alice, ipv6: '198.51.100.1' }), /is an IPv4 address/);
});

test('reverseZoneFor: longest configured suffix per family, derived /24 and /32 otherwise', () => {
  const zones = ['in-addr.arpa', '51.198.in-addr.arpa', '100.51.198.in-addr.arpa.', 'd.0.1.0.0.2.ip6.arpa'];
  assert.equal(reverseZoneFor('198.51.100.11', zones), '100.51.198.in-addr.arpa');
  assert.equal(reverseZoneFor('198.51.7.1', zones), '51.198.in-addr.arpa');
  assert.equal(reverseZoneFor('2001:db8::11', zones), 'd.0.1.0.0.2.ip6.arpa');
  assert.equal(reverseZoneFor('2001:db8::11', []), REV6);
  assert.equal(reverseZoneFor('198.51.100.11', ['8.b.d.0.1.0.0.2.ip6.arpa']), REV4, 'no IPv4 zone configured: derived');
  assert.throws(() => reverseZoneFor('2002:db8::1', zones), (e) => isRaptorError(e, 'bad-input') && /none of d\.0\.1\.0\.0\.2\.ip6\.arpa holds/.test(e.message));
});

test('planAdd on an empty zone: one UPDATE per zone, each RRset pinned absent, undo deletes exactly ours', () => {
  const set = vmRecords(config, alice);
  const plan = planAdd(set, observed(queriesForVm(set)));
  assert.deepEqual(
    plan.updates.map((u) => u.zone),
    ['raptor.test', REV4, REV6],
  );
  const fwd = plan.updates[0]!;
  assert.deepEqual(fwd.request, {
    prerequisites: [
      { kind: 'rrset-absent', name: 'alice-web.raptor.test', type: TYPE.A },
      { kind: 'rrset-absent', name: 'alice-web.raptor.test', type: TYPE.AAAA },
    ],
    deletes: [],
    adds: [
      { name: 'alice-web.raptor.test', ttl: 120, rdata: { type: 'A', address: '198.51.100.11' } },
      { name: 'alice-web.raptor.test', ttl: 120, rdata: { type: 'AAAA', address: '2001:db8::11' } },
    ],
  });
  assert.deepEqual(plan.updates[1]!.request.adds, [{ name: PTR4, ttl: 120, rdata: { type: 'PTR', target: 'alice-web.raptor.test' } }]);
  assert.deepEqual(
    plan.undo.map((u) => u.zone),
    [REV6, REV4, 'raptor.test'],
  );
  assert.deepEqual(plan.undo[2]!.request, {
    prerequisites: [],
    deletes: [
      { name: 'alice-web.raptor.test', type: TYPE.AAAA, rdata: { type: 'AAAA', address: '2001:db8::11' } },
      { name: 'alice-web.raptor.test', type: TYPE.A, rdata: { type: 'A', address: '198.51.100.11' } },
    ],
    adds: [],
  });
});

test('planAdd is idempotent: records already in place need no UPDATE', () => {
  const set = vmRecords(config, alice);
  const o = observed(queriesForVm(set), [
    ['alice-web.raptor.test', 'A', ['198.51.100.11']],
    ['alice-web.raptor.test', 'AAAA', ['2001:db8::11']],
    [PTR4, 'PTR', ['alice-web.raptor.test.']],
  ]);
  const plan = planAdd(set, o);
  assert.deepEqual(
    plan.updates.map((u) => [u.zone, u.request.adds.length]),
    [[REV6, 1]],
  );
});

test('planAdd: other data at our names is a conflict listing all of it; force replaces it, pinned to what was seen', () => {
  const set = vmRecords(config, alice);
  const o = observed(queriesForVm(set), [
    ['alice-web.raptor.test', 'A', ['198.51.100.99']],
    [PTR6, 'PTR', ['alice-web.raptor.test', 'mail.example.org']],
  ]);
  assert.throws(
    () => planAdd(set, o),
    (e) => {
      assert.ok(isRaptorError(e, 'conflict'));
      assert.equal(
        e.message,
        `DNS records for alice-web conflict with data raptor did not write: alice-web.raptor.test A holds 198.51.100.99 (raptor would write 198.51.100.11); ${PTR6} PTR holds alice-web.raptor.test, mail.example.org (raptor would write alice-web.raptor.test); nothing changed (--force replaces them)`,
      );
      return true;
    },
  );
  const plan = planAdd(set, o, { force: true });
  const fwd = plan.updates.find((u) => u.zone === 'raptor.test')!;
  assert.deepEqual(fwd.request.prerequisites[0], { kind: 'rrset-equals', name: 'alice-web.raptor.test', type: TYPE.A, rdata: [{ type: 'A', address: '198.51.100.99' }] });
  assert.deepEqual(fwd.request.deletes, [{ name: 'alice-web.raptor.test', type: TYPE.A }]);
  assert.deepEqual(fwd.expect[0], { name: 'alice-web.raptor.test', type: 'A', equals: ['198.51.100.11'] });
  // undo of a forced add puts the old data back
  const undoFwd = plan.undo.find((u) => u.zone === 'raptor.test')!;
  assert.deepEqual(undoFwd.request.adds.find((a) => a.rdata.type === 'A'), { name: 'alice-web.raptor.test', ttl: 120, rdata: { type: 'A', address: '198.51.100.99' } });
});

test('planAdd: a stray AAAA on a v4-only VM and a CNAME at the name are conflicts too', () => {
  const set = vmRecords(config, { vmId: 'bob-db', fqdn: 'bob-db.raptor.test', ipv4: '198.51.100.12' });
  assert.throws(() => planAdd(set, observed(queriesForVm(set), [['bob-db.raptor.test', 'AAAA', ['2001:db8::99']]])), /bob-db\.raptor\.test AAAA holds 2001:db8::99;/);
  const withCname = observed(queriesForVm(set), [['bob-db.raptor.test', 'CNAME', ['elsewhere.raptor.test']]]);
  assert.throws(() => planAdd(set, withCname), /bob-db\.raptor\.test is a CNAME for elsewhere\.raptor\.test/);
  const forced = planAdd(set, withCname, { force: true });
  assert.deepEqual(forced.updates[0]!.request.deletes, [{ name: 'bob-db.raptor.test', type: TYPE.CNAME }]);
  // undo: our A goes before the CNAME comes back
  const undo = forced.undo.find((u) => u.zone === 'raptor.test')!;
  assert.deepEqual(undo.request.deletes.map((d) => d.type), [TYPE.A]);
  assert.deepEqual(undo.request.adds.map((a) => a.rdata.type), ['CNAME']);
});

test('planAdd refuses to plan from an incomplete observation', () => {
  const set = vmRecords(config, alice);
  assert.throws(() => planAdd(set, new Observation()), (e) => isRaptorError(e, 'unexpected') && /was not observed/.test(e.message));
});

test('planRemove deletes exactly our RRs, one by one, and nothing that is not there', () => {
  const set = vmRecords(config, alice);
  const o = observed(queriesForVm(set), [
    ['alice-web.raptor.test', 'A', ['198.51.100.11', '198.51.100.50']],
    ['alice-web.raptor.test', 'AAAA', ['2001:db8::11']],
    [PTR4, 'PTR', ['alice-web.raptor.test']],
  ]);
  const updates = planRemove(set, o);
  assert.deepEqual(
    updates.map((u) => [u.zone, u.request]),
    [
      [
        'raptor.test',
        {
          prerequisites: [],
          deletes: [
            { name: 'alice-web.raptor.test', type: TYPE.A, rdata: { type: 'A', address: '198.51.100.11' } },
            { name: 'alice-web.raptor.test', type: TYPE.AAAA, rdata: { type: 'AAAA', address: '2001:db8::11' } },
          ],
          adds: [],
        },
      ],
      [REV4, { prerequisites: [], deletes: [{ name: PTR4, type: TYPE.PTR, rdata: { type: 'PTR', target: 'alice-web.raptor.test' } }], adds: [] }],
    ],
  );
  assert.ok(updates.every((u) => u.request.deletes.every((d) => d.rdata)), 'never a whole RRset');
  assert.deepEqual(planRemove(set, observed(queriesForVm(set))), []);
});

function syncObservation(desired: VmRecordSet[], set: [string, 'A' | 'AAAA' | 'PTR', string[]][], followUp: [string, 'A' | 'AAAA' | 'PTR', string[]][] = []): Observation {
  const o = observed(syncQueries(config, desired), set);
  for (const r of syncFollowUpQueries(config, desired, o)) o.set(r.name, r.type, []);
  for (const [name, type, values] of followUp) o.set(name, type, values);
  return o;
}

test('syncQueries: every VM RRset and the PTR of every bridge address, once each', () => {
  const desired = [vmRecords(config, alice)];
  const refs = syncQueries(config, desired);
  assert.equal(refs.length, 4 + 6 - 2);
  assert.equal(new Set(refs.map((r) => `${r.name} ${r.type}`)).size, refs.length);
  assert.ok(refs.some((r) => r.name === '13.100.51.198.in-addr.arpa' && r.type === 'PTR'));
});

test('diffForSync: nothing to do when the zone matches', () => {
  const desired = [vmRecords(config, alice)];
  const o = syncObservation(desired, [
    ['alice-web.raptor.test', 'A', ['198.51.100.11']],
    ['alice-web.raptor.test', 'AAAA', ['2001:db8::11']],
    [PTR4, 'PTR', ['alice-web.raptor.test']],
    [PTR6, 'PTR', ['alice-web.raptor.test']],
  ]);
  assert.deepEqual(syncFollowUpQueries(config, desired, o), []);
  assert.deepEqual(diffForSync(config, desired, o), []);
});

test('diffForSync: missing, wrong address, and the stale records of a VM that is gone', () => {
  const desired = [vmRecords(config, alice)];
  const o = syncObservation(
    desired,
    [
      ['alice-web.raptor.test', 'A', ['198.51.100.99']], // altered by hand
      [PTR4, 'PTR', ['alice-web.raptor.test']],
      // AAAA and PTR6 missing; bridge 2 still names a destroyed VM; bridge 3 names a foreign host
      ['12.100.51.198.in-addr.arpa', 'PTR', ['bob-old.raptor.test']],
      ['13.100.51.198.in-addr.arpa', 'PTR', ['printer.example.org']],
    ],
    [['bob-old.raptor.test', 'A', ['198.51.100.12', '198.51.100.77']]],
  );
  assert.deepEqual(syncFollowUpQueries(config, desired, o), [{ name: 'bob-old.raptor.test', type: 'A' }]);
  const changes = diffForSync(config, desired, o);
  assert.deepEqual(changes, [
    { kind: 'wrong', vmId: 'alice-web', zone: 'raptor.test', name: 'alice-web.raptor.test', type: 'A', found: ['198.51.100.99'], want: ['198.51.100.11'] },
    { kind: 'missing', vmId: 'alice-web', zone: 'raptor.test', name: 'alice-web.raptor.test', type: 'AAAA', want: ['2001:db8::11'] },
    { kind: 'missing', vmId: 'alice-web', zone: REV6, name: PTR6, type: 'PTR', want: ['alice-web.raptor.test'] },
    { kind: 'stale', zone: REV4, name: '12.100.51.198.in-addr.arpa', type: 'PTR', value: 'bob-old.raptor.test' },
    { kind: 'stale', zone: 'raptor.test', name: 'bob-old.raptor.test', type: 'A', value: '198.51.100.12' },
  ]);
  const updates = planSync(changes, 120);
  const fwd = updates.find((u) => u.zone === 'raptor.test')!;
  assert.deepEqual(fwd.request.prerequisites, [
    { kind: 'rrset-equals', name: 'alice-web.raptor.test', type: TYPE.A, rdata: [{ type: 'A', address: '198.51.100.99' }] },
    { kind: 'rrset-absent', name: 'alice-web.raptor.test', type: TYPE.AAAA },
  ]);
  assert.deepEqual(fwd.request.deletes, [
    { name: 'alice-web.raptor.test', type: TYPE.A },
    { name: 'bob-old.raptor.test', type: TYPE.A, rdata: { type: 'A', address: '198.51.100.12' } },
  ]);
  assert.equal(fwd.request.adds.length, 2);
  assert.deepEqual(
    updates.map((u) => u.zone),
    ['raptor.test', REV6, REV4],
  );
});

test('diffForSync: a VM that moved bridges leaves its old PTR; the new holder of the address gets it', () => {
  const carol = { vmId: 'carol-x', fqdn: 'carol-x.raptor.test', ipv4: '198.51.100.12' };
  const desired = [vmRecords(config, alice), vmRecords(config, carol)];
  const o = syncObservation(desired, [
    ['alice-web.raptor.test', 'A', ['198.51.100.11']],
    ['alice-web.raptor.test', 'AAAA', ['2001:db8::11']],
    [PTR4, 'PTR', ['alice-web.raptor.test']],
    [PTR6, 'PTR', ['alice-web.raptor.test']],
    ['carol-x.raptor.test', 'A', ['198.51.100.13']], // carol was on bridge 3 before
    ['12.100.51.198.in-addr.arpa', 'PTR', ['alice-web.raptor.test']], // leftover from alice's earlier life
    ['13.100.51.198.in-addr.arpa', 'PTR', ['carol-x.raptor.test']],
  ]);
  // alice and carol are both current VMs: no follow-up, their own diffs fix their forward names
  assert.deepEqual(syncFollowUpQueries(config, desired, o), []);
  assert.deepEqual(
    diffForSync(config, desired, o).map((c) => [c.kind, c.name, c.type]),
    [
      ['wrong', 'carol-x.raptor.test', 'A'],
      ['wrong', '12.100.51.198.in-addr.arpa', 'PTR'],
      ['stale', '13.100.51.198.in-addr.arpa', 'PTR'],
    ],
  );
});
