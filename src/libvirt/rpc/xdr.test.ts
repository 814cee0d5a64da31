import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XdrError, XdrReader, XdrWriter } from './xdr.ts';

test('ints, unsigned ints, bools and hypers are big-endian, 4 and 8 bytes', () => {
  const b = new XdrWriter().int(-2).uint(0xfffffffe).bool(true).uhyper(9000000n).hyper(-1n).toBuffer();
  assert.equal(b.toString('hex'), 'fffffffe' + 'fffffffe' + '00000001' + '0000000000895440' + 'ffffffffffffffff');
  const r = new XdrReader(b);
  assert.deepEqual([r.int(), r.uint(), r.bool(), r.uhyper(), r.hyper()], [-2, 0xfffffffe, true, 9000000n, -1n]);
  r.end();
});

test('strings and opaques carry their length and pad to 4 bytes; fixed opaques have no length', () => {
  const b = new XdrWriter().string('nope!').fixedOpaque(Buffer.from([1, 2, 3])).opaque(Buffer.alloc(0)).toBuffer();
  assert.equal(b.toString('hex'), '00000005' + '6e6f706521000000' + '01020300' + '00000000');
  const r = new XdrReader(b);
  assert.equal(r.string(), 'nope!');
  assert.deepEqual([...r.fixedOpaque(3)], [1, 2, 3]);
  assert.equal(r.opaque().length, 0);
  r.end();
});

test('UTF-8 strings round-trip by bytes, not characters', () => {
  const s = 'grüße-✓';
  const b = new XdrWriter().string(s).toBuffer();
  assert.equal(b.readUInt32BE(0), Buffer.byteLength(s));
  assert.equal(b.length % 4, 0);
  assert.equal(new XdrReader(b).string(), s);
});

test('optional values and arrays round-trip', () => {
  const b = new XdrWriter()
    .optional('x', (w, v) => w.string(v))
    .optional(undefined, (w, v: string) => w.string(v))
    .array([3, 1, 2], (w, v) => w.int(v))
    .toBuffer();
  const r = new XdrReader(b);
  assert.equal(
    r.optional((x) => x.string()),
    'x',
  );
  assert.equal(
    r.optional((x) => x.string()),
    undefined,
  );
  assert.deepEqual(
    r.array((x) => x.int()),
    [3, 1, 2],
  );
  r.end();
});

test('bad input is refused: out-of-range ints, short buffers, bad bools, lying counts, limits, leftovers', () => {
  assert.throws(() => new XdrWriter().int(2 ** 31), XdrError);
  assert.throws(() => new XdrWriter().uint(-1), XdrError);
  assert.throws(() => new XdrWriter().int(1.5), XdrError);
  assert.throws(() => new XdrWriter().string('abcdef', 4), XdrError);
  assert.throws(() => new XdrReader(Buffer.alloc(3)).int(), XdrError);
  assert.throws(() => new XdrReader(Buffer.from('00000002', 'hex')).bool(), XdrError);
  // a string that says 8 bytes and has 4
  assert.throws(() => new XdrReader(Buffer.from('0000000861626364', 'hex')).string(), XdrError);
  // an array of a million ints in 4 bytes
  assert.throws(() => new XdrReader(Buffer.from('000f424000000000', 'hex')).array((r) => r.int()), XdrError);
  assert.throws(() => new XdrReader(Buffer.from('00000005', 'hex')).array((r) => r.int(), 4), XdrError);
  assert.throws(() => new XdrReader(Buffer.from('0000000100000002', 'hex')).opaque(0), XdrError);
  const r = new XdrReader(Buffer.alloc(8));
  r.int();
  assert.throws(() => r.end(), XdrError);
});
