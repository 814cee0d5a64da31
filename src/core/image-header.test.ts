import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeImageHeader, strictSource } from './image-header.ts';

/** A qcow2 v3 header as qemu-img writes it, with the fields a test wants changed. */
function qcow2(opts: { version?: number; backingOffset?: bigint; backingSize?: number; crypt?: number; incompat?: bigint; extensions?: [number, Buffer][]; size?: bigint } = {}): Buffer {
  const buf = Buffer.alloc(4096);
  buf.writeUInt32BE(0x514649fb, 0);
  buf.writeUInt32BE(opts.version ?? 3, 4);
  buf.writeBigUInt64BE(opts.backingOffset ?? 0n, 8);
  buf.writeUInt32BE(opts.backingSize ?? 0, 16);
  buf.writeUInt32BE(16, 20);
  buf.writeBigUInt64BE(opts.size ?? 1048576n, 24);
  buf.writeUInt32BE(opts.crypt ?? 0, 32);
  buf.writeBigUInt64BE(opts.incompat ?? 0n, 72);
  buf.writeUInt32BE(112, 100);
  let at = (opts.version ?? 3) === 3 ? 112 : 72;
  for (const [type, data] of opts.extensions ?? []) {
    buf.writeUInt32BE(type, at);
    buf.writeUInt32BE(data.length, at + 4);
    data.copy(buf, at + 8);
    at += 8 + Math.ceil(data.length / 8) * 8;
  }
  return buf;
}

test('a standalone qcow2 (v2 or v3) passes with its virtual size', () => {
  assert.deepEqual(probeImageHeader(qcow2()), { format: 'qcow2', virtualSize: 1048576, problems: [] });
  assert.deepEqual(probeImageHeader(qcow2({ version: 2, size: 8n << 30n })), { format: 'qcow2', virtualSize: 8 * 2 ** 30, problems: [] });
  // compression type and feature-name extensions are harmless
  assert.deepEqual(probeImageHeader(qcow2({ incompat: 1n << 3n, extensions: [[0x6803f857, Buffer.alloc(48)]] })).format, 'qcow2');
});

test('a backing file, an external data file or encryption is named as the reason', () => {
  const problems = (b: Buffer) => (probeImageHeader(b) as { problems: string[] }).problems.join('; ');
  assert.match(problems(qcow2({ backingOffset: 512n, backingSize: 30 })), /backing file/);
  assert.match(problems(qcow2({ version: 2, backingOffset: 512n, backingSize: 30 })), /backing file/);
  assert.match(problems(qcow2({ incompat: 1n << 2n })), /external data file/);
  assert.match(problems(qcow2({ extensions: [[0x44415441, Buffer.from('/dev/lvm-data/guest-alice-a')]] })), /external data file/);
  assert.match(problems(qcow2({ crypt: 1 })), /encrypted/);
  assert.match(problems(qcow2().subarray(0, 80)), /truncated/);
  // extensions that never end within what was read
  const endless = qcow2({ extensions: [[0x12345678, Buffer.alloc(8)]] });
  endless.fill(0x11, 128);
  assert.match(problems(endless), /do not end/);
});

test('other formats qemu would recognise are named; anything else is raw', () => {
  const at = (text: string, offset = 0) => {
    const b = Buffer.alloc(4096);
    Buffer.from(text, 'latin1').copy(b, offset);
    return b;
  };
  assert.deepEqual(probeImageHeader(at('QED\0')), { format: 'other', name: 'qed' });
  assert.deepEqual(probeImageHeader(at('KDMV')), { format: 'other', name: 'vmdk' });
  assert.deepEqual(probeImageHeader(at('# Disk DescriptorFile\nversion=1\n')), { format: 'other', name: 'vmdk' });
  assert.deepEqual(probeImageHeader(at('version=1\nCID=12345678\ncreateType="monolithicFlat"\n')), { format: 'other', name: 'vmdk' });
  assert.deepEqual(probeImageHeader(at('vhdxfile')), { format: 'other', name: 'vhdx' });
  assert.deepEqual(probeImageHeader(at('conectix')), { format: 'other', name: 'vpc' });
  assert.deepEqual(probeImageHeader(at('LUKS\xba\xbe')), { format: 'other', name: 'luks' });
  assert.deepEqual(probeImageHeader(at('\x7f\x10\xda\xbe', 0x40)), { format: 'other', name: 'vdi' });
  assert.deepEqual(probeImageHeader(qcow2({ version: 1 })), { format: 'other', name: 'qcow (version 1)' });
  assert.deepEqual(probeImageHeader(Buffer.alloc(4096)), { format: 'raw' });
  assert.deepEqual(probeImageHeader(Buffer.alloc(0)), { format: 'raw' });
  assert.deepEqual(probeImageHeader(at('\xeb\x63\x90MBR-ish boot sector')), { format: 'raw' });
});

test('the conversion source names its driver and forbids a backing file', () => {
  assert.equal(strictSource('qcow2', '/dev/fd/3'), 'json:{"driver":"qcow2","backing":null,"file":{"driver":"file","filename":"/dev/fd/3"}}');
  assert.equal(strictSource('raw', '/a "b"'), 'json:{"driver":"raw","file":{"driver":"file","filename":"/a \\"b\\""}}');
});
