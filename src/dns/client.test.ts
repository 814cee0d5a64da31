// The client against a scripted in-process TCP server: framing, timeouts, and replies that must be refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { createHmac } from 'node:crypto';
import { isRaptorError } from '../core/errors.ts';
import { DnsClient } from './client.ts';
import { TsigKey } from './tsig.ts';
import { CLASS, RCODE, TYPE, decodeMessage, encodeMessage, encodeName, tsigRecordOf, type DnsMessage } from './wire.ts';

const SECRET = Buffer.from('c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=', 'base64');
const key = new TsigKey('raptor-key', 'hmac-sha256', SECRET);
const NOW = 1_800_000_000;

type Reply = { bytes: Uint8Array; chunked?: boolean } | 'hang' | 'close';
let handler: (req: DnsMessage, raw: Uint8Array) => Reply = () => 'hang';
const sockets = new Set<Socket>();

const server: Server = createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
    const raw = new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)));
    const reply = handler(decodeMessage(raw), raw);
    if (reply === 'hang') return;
    if (reply === 'close') return void socket.end();
    const frame = Buffer.alloc(2 + reply.bytes.length);
    frame.writeUInt16BE(reply.bytes.length);
    frame.set(reply.bytes, 2);
    if (!reply.chunked) return void socket.write(frame);
    for (const byte of frame) socket.write(Uint8Array.of(byte));
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as { port: number }).port;
after(() => {
  for (const s of sockets) s.destroy();
  server.close();
});

const client = (opts: { key?: TsigKey; timeoutMs?: number } = { key }) => new DnsClient({ server: '127.0.0.1', port, now: () => NOW, timeoutMs: 1000, ...opts });

/** A reply to `req`, signed the way RFC 8945 §5.3 says a server signs (written independently of tsig.ts). */
function signedReply(req: DnsMessage, _raw: Uint8Array, edit: (m: DnsMessage) => void = () => {}, secret = SECRET): Uint8Array {
  const reqTsig = tsigRecordOf(req)!;
  const reply: DnsMessage = { ...req, qr: true, aa: true, additional: [] };
  edit(reply);
  const body = encodeMessage(reply);
  const u16 = (v: number) => Buffer.from([v >> 8, v & 0xff]);
  const vars = Buffer.concat([
    encodeName('raptor-key'),
    u16(CLASS.ANY),
    Buffer.alloc(4),
    encodeName('hmac-sha256'),
    Buffer.from([0, 0, (NOW >>> 24) & 0xff, (NOW >>> 16) & 0xff, (NOW >>> 8) & 0xff, NOW & 0xff]),
    u16(300),
    u16(0),
    u16(0),
  ]);
  const mac = createHmac('sha256', secret).update(Buffer.concat([u16(reqTsig.rdata.mac.length), reqTsig.rdata.mac, body, vars])).digest();
  reply.additional.push({ name: 'raptor-key', type: TYPE.TSIG, class: CLASS.ANY, ttl: 0, rdata: { type: 'TSIG', algorithm: 'hmac-sha256', timeSigned: NOW, fudge: 300, mac, originalId: req.id, error: 0, other: new Uint8Array(0) } });
  return encodeMessage(reply);
}

const answerA = (m: DnsMessage) => {
  m.answers.push(
    { name: 'alice-web.raptor.test', type: TYPE.A, class: CLASS.IN, ttl: 300, rdata: { type: 'A', address: '198.51.100.11' } },
    { name: 'alice-web.raptor.test', type: TYPE.AAAA, class: CLASS.IN, ttl: 300, rdata: { type: 'AAAA', address: '2001:db8::11' } },
    { name: 'other.raptor.test', type: TYPE.A, class: CLASS.IN, ttl: 300, rdata: { type: 'A', address: '198.51.100.12' } },
  );
};

function assertRejects(p: Promise<unknown>, kind: string, pattern: RegExp) {
  return assert.rejects(p, (err: unknown) => {
    assert.ok(isRaptorError(err), String(err));
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes(SECRET.toString('base64').slice(0, 10)));
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

test('a signed query gets its verified answer, filtered to the name and type; byte-at-a-time framing works', async () => {
  let seen: DnsMessage | undefined;
  handler = (req, raw) => {
    seen = req;
    return { bytes: signedReply(req, raw, answerA), chunked: true };
  };
  const records = await client().query('Alice-Web.raptor.test.', 'A');
  assert.deepEqual(records, [{ name: 'alice-web.raptor.test', type: TYPE.A, ttl: 300, rdata: { type: 'A', address: '198.51.100.11' } }]);
  assert.equal(tsigRecordOf(seen!)?.name, 'raptor-key', 'the query was signed');
  assert.deepEqual(seen!.questions, [{ name: 'alice-web.raptor.test', type: TYPE.A, class: CLASS.IN }]);
});

test('an unsigned NOERROR reply to a signed request is refused', async () => {
  handler = (req) => ({ bytes: encodeMessage({ ...req, qr: true, additional: [] }) });
  await assertRejects(client().update('raptor.test', { prerequisites: [], deletes: [], adds: [] }), 'not-allowed', /^DNS update of zone raptor\.test at 127\.0\.0\.1:\d+: the reply is not signed, though the request was signed with TSIG key raptor-key$/);
});

test('a reply signed with another secret is refused', async () => {
  handler = (req, raw) => ({ bytes: signedReply(req, raw, answerA, Buffer.from('another secret')) });
  await assertRejects(client().query('alice-web.raptor.test', 'A'), 'not-allowed', /reply's TSIG signature is not valid \(bad-mac/);
});

test('a reply with another id is refused', async () => {
  handler = (req, raw) => ({ bytes: signedReply({ ...req, id: (req.id + 1) & 0xffff }, raw) });
  await assertRejects(client().query('alice-web.raptor.test', 'A'), 'unexpected', /the reply does not answer our request/);
});

test('update rcodes map to error kinds with one line naming server and zone', async () => {
  const cases: [number, string, RegExp][] = [
    [RCODE.REFUSED, 'not-allowed', /^DNS update of zone raptor\.test at 127\.0\.0\.1:\d+ refused \(REFUSED\)$/],
    [RCODE.YXRRSET, 'conflict', /zone raptor\.test .* not applied: the records changed since they were read \(YXRRSET\)$/],
    [RCODE.SERVFAIL, 'unexpected', /zone raptor\.test .* failed \(SERVFAIL\)$/],
    [RCODE.NOTZONE, 'bad-input', /outside the zone \(NOTZONE\)$/],
  ];
  for (const [rcode, kind, pattern] of cases) {
    handler = (req, raw) => ({ bytes: signedReply(req, raw, (m) => (m.rcode = rcode)) });
    await assertRejects(client().update('raptor.test', { prerequisites: [], deletes: [], adds: [] }), kind, pattern);
  }
});

test('a BADKEY reply (unsigned, TSIG error set) names the key; NOTAUTH tells a zone not served', async () => {
  handler = (req) => {
    const t = tsigRecordOf(req)!;
    return { bytes: encodeMessage({ ...req, qr: true, rcode: RCODE.NOTAUTH, additional: [{ ...t, rdata: { ...t.rdata, mac: new Uint8Array(0), error: RCODE.BADKEY } }] }) };
  };
  await assertRejects(client().update('raptor.test', { prerequisites: [], deletes: [], adds: [] }), 'not-allowed', /^DNS update of zone raptor\.test at 127\.0\.0\.1:\d+ rejected: the server does not accept the TSIG key raptor-key \(BADKEY\)$/);
  handler = (req, raw) => ({ bytes: signedReply(req, raw, (m) => (m.rcode = req.opcode === 5 ? RCODE.NOTAUTH : RCODE.REFUSED)) });
  await assertRejects(client().update('nosuch.test', { prerequisites: [], deletes: [], adds: [] }), 'conflict', /zone nosuch\.test at .* refused: zone nosuch\.test is not served there \(NOTAUTH\)$/);
});

test('a server that does not answer times out; a closed port is unreachable', async () => {
  handler = () => 'hang';
  const started = Date.now();
  await assertRejects(client({ key, timeoutMs: 150 }).update('raptor.test', { prerequisites: [], deletes: [], adds: [] }), 'unexpected', /^DNS server 127\.0\.0\.1:\d+ did not answer within 150 ms, during update of zone raptor\.test$/);
  assert.ok(Date.now() - started < 1000);
  handler = () => 'close';
  await assertRejects(client().query('x.raptor.test', 'A'), 'unexpected', /closed the connection without answering, during query for x\.raptor\.test A/);
  const closed = new DnsClient({ server: '127.0.0.1', port: 1, key });
  await assertRejects(closed.update('raptor.test', { prerequisites: [], deletes: [], adds: [] }), 'unexpected', /^DNS server 127\.0\.0\.1:1 unreachable \(ECONNREFUSED\), during update of zone raptor\.test$/);
});

test('without a key, requests go unsigned and replies are taken as they are', async () => {
  let signed = true;
  handler = (req) => {
    signed = tsigRecordOf(req) !== undefined;
    return { bytes: encodeMessage({ ...req, qr: true, rcode: RCODE.NXDOMAIN }) };
  };
  assert.deepEqual(await client({}).query('nothing.raptor.test', 'AAAA'), []);
  assert.equal(signed, false);
});
