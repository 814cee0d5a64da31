import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  CLASS,
  OPCODE,
  RCODE,
  TYPE,
  bytesToIpv6,
  canonicalAddress,
  decodeMessage,
  effectiveRcode,
  emptyMessage,
  encodeMessage,
  encodeName,
  ipv6ToBytes,
  isInZone,
  reverseName,
  updateMessage,
  type DnsMessage,
} from './wire.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const fixture = JSON.parse(readFileSync(new URL('./fixtures/tsig-captured.json', import.meta.url), 'utf8')) as {
  exchanges: { server: string; what: string; request: string; response: string }[];
};

test('IPv6 text to bytes expands :: and embedded IPv4, and rejects malformed text', () => {
  assert.deepEqual(Array.from(ipv6ToBytes('2001:db8::11')), [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 0x11]);
  assert.deepEqual(Array.from(ipv6ToBytes('::')), new Array(16).fill(0));
  assert.deepEqual(Array.from(ipv6ToBytes('::1')), [...new Array(15).fill(0), 1]);
  assert.deepEqual(Array.from(ipv6ToBytes('1::')), [0, 1, ...new Array(14).fill(0)]);
  assert.deepEqual(Array.from(ipv6ToBytes('::ffff:198.51.100.1')).slice(10), [0xff, 0xff, 198, 51, 100, 1]);
  assert.deepEqual(Array.from(ipv6ToBytes('2001:DB8:0:0:0:0:0:11')), Array.from(ipv6ToBytes('2001:db8::11')));
  for (const bad of ['1::2::3', '2001:db8', '1:2:3:4:5:6:7:8:9', '2001:db8::g', '12345::', '1:2:3:4:5:6:7::8', ':1::', '198.51.100.1']) {
    assert.throws(() => ipv6ToBytes(bad), /not an IPv6 address/, bad);
  }
});

test('IPv6 bytes to text follows RFC 5952 (longest zero run, not a single group)', () => {
  assert.equal(bytesToIpv6(ipv6ToBytes('2001:0db8:0000:0000:0000:0000:0000:0011')), '2001:db8::11');
  assert.equal(bytesToIpv6(ipv6ToBytes('2001:db8:0:1:0:0:0:1')), '2001:db8:0:1::1');
  assert.equal(bytesToIpv6(ipv6ToBytes('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1');
  assert.equal(bytesToIpv6(ipv6ToBytes('0:0:1:0:0:0:1:0')), '0:0:1::1:0');
  assert.equal(bytesToIpv6(ipv6ToBytes('::')), '::');
  assert.equal(canonicalAddress('198.51.100.011'.replace('011', '11')), '198.51.100.11');
  assert.throws(() => canonicalAddress('198.51.100.256'), /not an IPv4 address/);
});

test('reverse names for IPv4 and IPv6 (nibble form)', () => {
  assert.equal(reverseName('198.51.100.11'), '11.100.51.198.in-addr.arpa');
  assert.equal(reverseName('2001:db8::11'), '1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  assert.equal(reverseName('2001:db8::11').split('.').length, 34);
});

test('names: encodeName lowers case only for canonical form, rejects long labels; isInZone', () => {
  assert.deepEqual(Array.from(encodeName('Ab.c.')), [2, 0x41, 0x62, 1, 0x63, 0]);
  assert.deepEqual(Array.from(encodeName('Ab.c', true)), [2, 0x61, 0x62, 1, 0x63, 0]);
  assert.deepEqual(Array.from(encodeName('')), [0]);
  assert.throws(() => encodeName(`${'a'.repeat(64)}.test`), /label of 64 bytes/);
  assert.throws(() => encodeName('a..b'), /label of 0 bytes/);
  assert.equal(isInZone('alice-web.raptor.test.', 'Raptor.Test'), true);
  assert.equal(isInZone('raptor.test', 'raptor.test'), true);
  assert.equal(isInZone('xraptor.test', 'raptor.test'), false);
});

test('a message with every supported record type round-trips', () => {
  const msg: DnsMessage = {
    ...emptyMessage(0xbeef, OPCODE.QUERY),
    qr: true,
    aa: true,
    rd: true,
    rcode: RCODE.NXDOMAIN,
    questions: [{ name: 'alice-web.raptor.test', type: TYPE.A, class: CLASS.IN }],
    answers: [
      { name: 'alice-web.raptor.test', type: TYPE.A, class: CLASS.IN, ttl: 300, rdata: { type: 'A', address: '198.51.100.11' } },
      { name: 'alice-web.raptor.test', type: TYPE.AAAA, class: CLASS.IN, ttl: 300, rdata: { type: 'AAAA', address: '2001:db8::11' } },
      { name: 'x.raptor.test', type: TYPE.CNAME, class: CLASS.IN, ttl: 60, rdata: { type: 'CNAME', target: 'alice-web.raptor.test' } },
      { name: 'raptor.test', type: TYPE.TXT, class: CLASS.IN, ttl: 60, rdata: { type: 'TXT', strings: ['hello', '', 'wörld'] } },
    ],
    authority: [
      { name: 'raptor.test', type: TYPE.NS, class: CLASS.IN, ttl: 300, rdata: { type: 'NS', target: 'ns.raptor.test' } },
      {
        name: 'raptor.test',
        type: TYPE.SOA,
        class: CLASS.IN,
        ttl: 300,
        rdata: { type: 'SOA', mname: 'ns.raptor.test', rname: 'hostmaster.raptor.test', serial: 4294967295, refresh: 3600, retry: 600, expire: 86400, minimum: 300 },
      },
      { name: '11.100.51.198.in-addr.arpa', type: TYPE.PTR, class: CLASS.IN, ttl: 300, rdata: { type: 'PTR', target: 'alice-web.raptor.test' } },
      { name: 'raptor.test', type: 99, class: CLASS.IN, ttl: 1, rdata: { type: 'raw', bytes: Uint8Array.of(1, 2, 3) } },
      { name: 'gone.raptor.test', type: TYPE.A, class: CLASS.ANY, ttl: 0, rdata: null },
    ],
    additional: [
      {
        name: 'raptor-key',
        type: TYPE.TSIG,
        class: CLASS.ANY,
        ttl: 0,
        rdata: { type: 'TSIG', algorithm: 'hmac-sha256', timeSigned: 0x123456789a, fudge: 300, mac: Uint8Array.of(9, 8, 7), originalId: 0xbeef, error: RCODE.BADTIME, other: Uint8Array.of(0, 1, 2, 3, 4, 5) },
      },
    ],
  };
  const bytes = encodeMessage(msg);
  const decoded = decodeMessage(bytes);
  const { tsigOffset, ...rest } = decoded;
  assert.deepEqual(rest, msg);
  assert.equal(typeof tsigOffset, 'number');
  assert.equal(bytes[tsigOffset!], 'raptor-key'.length, 'tsigOffset points at the TSIG owner name');
  assert.equal(effectiveRcode(decoded), RCODE.BADTIME, 'a TSIG error overrides the header rcode');
  assert.deepEqual(encodeMessage(decoded), bytes);
});

test('decoding follows compression pointers (captured BIND and Knot responses)', () => {
  for (const ex of fixture.exchanges.filter((e) => e.what.startsWith('query'))) {
    const bytes = hex(ex.response);
    const msg = decodeMessage(bytes);
    assert.equal(msg.qr, true);
    assert.equal(msg.rcode, RCODE.NOERROR);
    assert.deepEqual(msg.questions, [{ name: 'ns.raptor.test', type: TYPE.A, class: CLASS.IN }]);
    assert.deepEqual(
      msg.answers.map((r) => [r.name, r.rdata]),
      [['ns.raptor.test', { type: 'A', address: '127.0.0.1' }]],
      ex.server,
    );
    // the answer's owner is a pointer (0xc0..) to the question name
    const answerStart = 12 + encodeName('ns.raptor.test').length + 4;
    assert.equal(bytes[answerStart]! & 0xc0, 0xc0, `${ex.server} compresses`);
    assert.ok(msg.tsigOffset! > answerStart);
  }
  // a hand-made pointer chain: "www" + pointer to "raptor.test" in the question
  const q = encodeMessage({ ...emptyMessage(1, 0), qr: true, questions: [{ name: 'raptor.test', type: TYPE.A, class: CLASS.IN }] });
  const rr = Uint8Array.of(3, 0x77, 0x77, 0x77, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 198, 51, 100, 1);
  const withAnswer = Uint8Array.from([...q, ...rr]);
  withAnswer[7] = 1; // ANCOUNT
  assert.equal(decodeMessage(withAnswer).answers[0]!.name, 'www.raptor.test');
});

test('decoding rejects malformed messages: forward pointers, truncation, trailing bytes, misplaced TSIG', () => {
  const q = encodeMessage({ ...emptyMessage(1, 0), questions: [{ name: 'a.test', type: 1, class: 1 }] });
  const loop = Uint8Array.from(q);
  loop[12] = 0xc0;
  loop[13] = 12; // points at itself
  assert.throws(() => decodeMessage(loop), /does not point backwards/);
  assert.throws(() => decodeMessage(q.subarray(0, q.length - 1)), /truncated/);
  assert.throws(() => decodeMessage(Uint8Array.from([...q, 0])), /1 bytes after the last record/);
  const tsigFirst = encodeMessage({
    ...emptyMessage(1, 0),
    additional: [
      { name: 'k', type: TYPE.TSIG, class: CLASS.ANY, ttl: 0, rdata: { type: 'TSIG', algorithm: 'hmac-sha256', timeSigned: 1, fudge: 300, mac: new Uint8Array(0), originalId: 1, error: 0, other: new Uint8Array(0) } },
      { name: 'a', type: TYPE.A, class: CLASS.IN, ttl: 0, rdata: { type: 'A', address: '198.51.100.1' } },
    ],
  });
  assert.throws(() => decodeMessage(tsigFirst), /TSIG record is not the last/);
  const badA = encodeMessage({ ...emptyMessage(1, 0), answers: [{ name: 'a', type: TYPE.A, class: 1, ttl: 0, rdata: { type: 'raw', bytes: Uint8Array.of(1, 2, 3) } }] });
  assert.throws(() => decodeMessage(badA), /A record of 3 bytes/);
});

test('the extended rcode of an OPT record is combined with the header rcode', () => {
  const msg = { ...emptyMessage(1, 0), rcode: 0, additional: [{ name: '', type: TYPE.OPT, class: 1232, ttl: 0x01000000, rdata: null }] };
  assert.equal(effectiveRcode(decodeMessage(encodeMessage(msg))), 16);
});

test('an UPDATE message has the zone, prerequisite and update sections of RFC 2136', () => {
  const msg = updateMessage(7, 'raptor.test.', {
    prerequisites: [
      { kind: 'rrset-absent', name: 'a.raptor.test', type: TYPE.A },
      { kind: 'rrset-equals', name: 'b.raptor.test', type: TYPE.A, rdata: [{ type: 'A', address: '198.51.100.1' }, { type: 'A', address: '198.51.100.2' }] },
      { kind: 'name-in-use', name: 'c.raptor.test' },
    ],
    deletes: [
      { name: 'b.raptor.test', type: TYPE.A },
      { name: 'd.raptor.test', type: TYPE.AAAA, rdata: { type: 'AAAA', address: '2001:db8::1' } },
    ],
    adds: [{ name: 'a.raptor.test', ttl: 300, rdata: { type: 'A', address: '198.51.100.11' } }],
  });
  const back = decodeMessage(encodeMessage(msg));
  assert.equal(back.opcode, OPCODE.UPDATE);
  assert.deepEqual(back.questions, [{ name: 'raptor.test', type: TYPE.SOA, class: CLASS.IN }]);
  assert.deepEqual(
    back.answers.map((r) => [r.name, r.type, r.class, r.ttl, r.rdata?.type ?? null]),
    [
      ['a.raptor.test', TYPE.A, CLASS.NONE, 0, null],
      ['b.raptor.test', TYPE.A, CLASS.IN, 0, 'A'],
      ['b.raptor.test', TYPE.A, CLASS.IN, 0, 'A'],
      ['c.raptor.test', TYPE.ANY, CLASS.ANY, 0, null],
    ],
  );
  assert.deepEqual(
    back.authority.map((r) => [r.name, r.type, r.class, r.ttl, r.rdata?.type ?? null]),
    [
      ['b.raptor.test', TYPE.A, CLASS.ANY, 0, null],
      ['d.raptor.test', TYPE.AAAA, CLASS.NONE, 0, 'AAAA'],
      ['a.raptor.test', TYPE.A, CLASS.IN, 300, 'A'],
    ],
  );
});

test('the UPDATE messages nsupdate sent decode to what its script said', () => {
  for (const ex of fixture.exchanges.filter((e) => e.what.startsWith('update'))) {
    const msg = decodeMessage(hex(ex.request));
    assert.equal(msg.opcode, OPCODE.UPDATE);
    assert.deepEqual(msg.questions, [{ name: 'raptor.test', type: TYPE.SOA, class: CLASS.IN }]);
    assert.deepEqual(
      msg.authority.map((r) => [r.name, r.class, r.ttl, r.rdata]),
      [
        ['fixture.raptor.test', CLASS.IN, 300, { type: 'A', address: '198.51.100.7' }],
        ['fixture.raptor.test', CLASS.IN, 300, { type: 'AAAA', address: '2001:db8::7' }],
      ],
    );
    assert.equal(decodeMessage(hex(ex.response)).rcode, RCODE.NOERROR, ex.server);
  }
});
