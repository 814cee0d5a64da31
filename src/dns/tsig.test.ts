import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { isRaptorError } from '../core/errors.ts';
import { parseKeyFile, selectKey, signMessage, verifyResponse, TsigKey } from './tsig.ts';
import { CLASS, RCODE, TYPE, decodeMessage, emptyMessage, encodeMessage, tsigRecordOf } from './wire.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const fixture = JSON.parse(readFileSync(new URL('./fixtures/tsig-captured.json', import.meta.url), 'utf8')) as {
  key: { name: string; algorithm: 'hmac-sha256'; secret: string };
  exchanges: { server: string; client: string; what: string; request: string; response: string }[];
};
const key = new TsigKey(fixture.key.name, fixture.key.algorithm, Buffer.from(fixture.key.secret, 'base64'));
const otherKey = new TsigKey(fixture.key.name, 'hmac-sha256', Buffer.from('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', 'base64'));

/** The request as it was before dig/nsupdate appended the TSIG record. */
function unsignedPart(bytes: Uint8Array): Uint8Array {
  const msg = decodeMessage(bytes);
  const out = bytes.slice(0, msg.tsigOffset);
  out[11] = out[11]! - 1; // ARCOUNT (< 256 here)
  return out;
}

test('signing reproduces, byte for byte, what dig -y and nsupdate -k sent', () => {
  for (const ex of fixture.exchanges) {
    const request = hex(ex.request);
    const tsig = tsigRecordOf(decodeMessage(request))!;
    const signed = signMessage(unsignedPart(request), key, tsig.rdata.timeSigned, tsig.rdata.fudge);
    assert.deepEqual(signed.bytes, request, `${ex.client} → ${ex.server}: ${ex.what}`);
    assert.deepEqual(signed.mac, tsig.rdata.mac);
  }
});

test('responses signed by BIND and Knot verify; any change to them does not', () => {
  for (const ex of fixture.exchanges) {
    const request = decodeMessage(hex(ex.request));
    const requestMac = tsigRecordOf(request)!.rdata.mac;
    const raw = hex(ex.response);
    const response = decodeMessage(raw);
    const signedAt = tsigRecordOf(response)!.rdata.timeSigned;
    const label = `${ex.server}: ${ex.what}`;
    assert.deepEqual(verifyResponse(raw, response, requestMac, key, signedAt + 1), { ok: true }, label);

    assert.equal(verifyResponse(raw, response, requestMac, otherKey, signedAt).ok, false, `${label}: other secret`);
    const tampered = Uint8Array.from(raw);
    tampered[3] = tampered[3]! ^ 0x0f; // rcode bits
    assert.deepEqual(verifyResponse(tampered, decodeMessage(tampered), requestMac, key, signedAt), { ok: false, reason: 'bad-mac', detail: 'the MAC does not match' }, label);
    const otherRequestMac = Uint8Array.from(requestMac);
    otherRequestMac[0] = otherRequestMac[0]! ^ 1;
    assert.equal(verifyResponse(raw, response, otherRequestMac, key, signedAt).ok, false, `${label}: answer to another request`);
    const late = verifyResponse(raw, response, requestMac, key, signedAt + 301);
    assert.equal(late.ok === false && late.reason, 'bad-time', label);
    assert.equal(verifyResponse(raw, response, requestMac, key, signedAt - 300).ok, true, `${label}: within the fudge`);
    const wrongName = new TsigKey('other-key', 'hmac-sha256', Buffer.from(fixture.key.secret, 'base64'));
    const named = verifyResponse(raw, response, requestMac, wrongName, signedAt);
    assert.equal(named.ok === false && named.reason, 'wrong-key', label);
  }
});

test('an unsigned response, and one carrying a TSIG error, are told apart', () => {
  const plain = encodeMessage({ ...emptyMessage(5, 0), qr: true });
  assert.deepEqual(verifyResponse(plain, decodeMessage(plain), Uint8Array.of(1), key, 0), { ok: false, reason: 'unsigned' });
  const badKey = encodeMessage({
    ...emptyMessage(5, 0),
    qr: true,
    rcode: RCODE.NOTAUTH,
    additional: [
      { name: 'raptor-key', type: TYPE.TSIG, class: CLASS.ANY, ttl: 0, rdata: { type: 'TSIG', algorithm: 'hmac-sha256', timeSigned: 1, fudge: 300, mac: new Uint8Array(0), originalId: 5, error: RCODE.BADKEY, other: new Uint8Array(0) } },
    ],
  });
  assert.deepEqual(verifyResponse(badKey, decodeMessage(badKey), Uint8Array.of(1), key, 1), { ok: false, reason: 'server-rejected', error: RCODE.BADKEY });
});

test('sign then verify round trip, with hmac-sha512 too', () => {
  for (const algorithm of ['hmac-sha256', 'hmac-sha512'] as const) {
    const k = new TsigKey('k.example', algorithm, Uint8Array.of(1, 2, 3, 4));
    const { bytes, mac } = signMessage(encodeMessage(emptyMessage(0x1234, 0)), k, 1_700_000_000);
    const msg = decodeMessage(bytes);
    const t = tsigRecordOf(msg)!;
    assert.equal(t.rdata.mac.length, algorithm === 'hmac-sha256' ? 32 : 64);
    assert.deepEqual(t.rdata.mac, mac);
    assert.equal(t.rdata.originalId, 0x1234);
    assert.equal(t.rdata.fudge, 300);
    assert.equal(t.rdata.timeSigned, 1_700_000_000);
    assert.equal(t.name, 'k.example');
    assert.equal(t.rdata.algorithm, algorithm);
  }
});

const SECRET = 'd2ZXHZOLbC4Y5bOZ7ejPbU1qUUVJXn2LQYTS7z2Zjo0=';

test('key files: tsig-keygen output, several keys, comments, unquoted names', () => {
  const text = `// made by tsig-keygen
key "raptor-key" {
\talgorithm hmac-sha256;
\tsecret "${SECRET}";
};
/* a second
   key */ key other.key { secret "AAAA"; algorithm HMAC-SHA512; }; # trailing
options { directory "/x"; };
`;
  const keys = parseKeyFile(text, '/etc/raptor/tsig.key');
  assert.deepEqual(
    keys.map((k) => k.toJSON()),
    [
      { name: 'raptor-key', algorithm: 'hmac-sha256' },
      { name: 'other.key', algorithm: 'hmac-sha512' },
    ],
  );
  assert.equal(selectKey(keys, 'f', { algorithm: 'hmac-sha256' }).name, 'raptor-key');
  assert.equal(selectKey(keys, 'f', { name: 'other.key.' }).algorithm, 'hmac-sha512');
  assert.throws(() => selectKey(keys, '/etc/raptor/tsig.key'), /2 TSIG keys \(raptor-key, other\.key\)/);
  assert.throws(() => selectKey(keys, '/etc/raptor/tsig.key', { algorithm: 'hmac-sha1' }), /no TSIG key with algorithm hmac-sha1/);
  // the parsed secret is the one that signs
  const signedA = signMessage(encodeMessage(emptyMessage(1, 0)), keys[0]!, 1).mac;
  assert.deepEqual(signedA, signMessage(encodeMessage(emptyMessage(1, 0)), key, 1).mac);
});

test('key file errors name the file and line and never contain the secret', () => {
  const cases: [string, RegExp][] = [
    [`key "k" { algorithm hmac-sha256; secret "${SECRET}" };`, /k\.key: line 1: expected ";" after the secret of key "k"/],
    [`key "k" { algorithm hmac-md5; secret "${SECRET}"; };`, /unsupported algorithm hmac-md5/],
    [`key "k" {\n algorithm hmac-sha256;\n secret "${SECRET.slice(0, -2)}!";\n};`, /key "k": the secret is not valid base64/],
    [`key "k" { algorithm hmac-sha256; };`, /key "k" has no secret/],
    [`key "k" { secret "${SECRET}"; };`, /key "k" has no algorithm/],
    [`key "k" { algorithm hmac-sha256; secret ${SECRET}; `, /expected "}" closing key "k"/],
    [`key "k" { algorithm hmac-sha256; secret "${SECRET}; };`, /line 1: unterminated string/],
    [`key "k" { algorithm hmac-sha256; password "${SECRET}"; };`, /unknown field in key "k"/],
  ];
  for (const [text, want] of cases) {
    assert.throws(
      () => parseKeyFile(text, '/etc/raptor/k.key'),
      (err: unknown) => {
        assert.ok(isRaptorError(err, 'bad-input'), String(err));
        assert.match(err.message, want);
        assert.match(err.message, /^\/etc\/raptor\/k\.key: /);
        assert.ok(!err.message.includes(SECRET.slice(0, 12)), `secret in: ${err.message}`);
        return true;
      },
      text,
    );
  }
});

test('a key never shows its secret in JSON, inspect or string form', () => {
  const [k] = parseKeyFile(`key "raptor-key" { algorithm hmac-sha256; secret "${SECRET}"; };`, 'f');
  const secretHex = Buffer.from(SECRET, 'base64').toString('hex');
  for (const shown of [JSON.stringify(k), inspect(k, { showHidden: true, depth: 5 }), String(k), JSON.stringify({ k }), inspect({ k })]) {
    assert.ok(!shown.includes(SECRET) && !shown.includes(secretHex.slice(0, 16)), shown);
    assert.match(shown, /raptor-key/);
  }
  assert.deepEqual(Object.keys(k!), ['name', 'algorithm']);
});
