import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNoDomain, LibvirtError, VIR_ERR, VIR_FROM } from '../hypervisor.ts';
import {
  decodeMessage,
  encodeCall,
  encodeMessage,
  HEADER_BYTES,
  libvirtErrorFromReply,
  MessageSplitter,
  MSG_STATUS,
  MSG_TYPE,
  PROC,
  readDomain,
  readRemoteError,
  REMOTE_PROGRAM,
  writeDomain,
  writeRemoteError,
  type RemoteError,
} from './protocol.ts';
import { XdrError, XdrReader, XdrWriter } from './xdr.ts';

// Replies captured from the sandbox's libvirtd 9.0.0 (root's connection)
const CAPTURED = {
  // AUTH_LIST, serial 1: [REMOTE_AUTH_NONE]
  authList: '000000242000808600000001000000420000000100000001000000000000000100000000',
  // CONNECT_OPEN, serial 3: empty payload
  open: '0000001c200080860000000100000001000000010000000300000000',
  // CONNECT_GET_LIB_VERSION, serial 4: 9000000 (9.0.0)
  libVersion: '0000002420008086000000010000009d0000000100000004000000000000000000895440',
  // DOMAIN_LOOKUP_BY_NAME "nope", serial 5: error VIR_ERR_NO_DOMAIN from VIR_FROM_QEMU
  noDomain:
    '000000c42000808600000001000000170000000100000005000000010000002a0000000a0000000100000035446f6d61696e206e6f7420666f756e643a206e6f20646f6d61696e2077697468206d61746368696e67206e616d6520276e6f70652700000000000002000000000000000100000014446f6d61696e206e6f7420666f756e643a20257300000001000000236e6f20646f6d61696e2077697468206d61746368696e67206e616d6520276e6f7065270000000000ffffffffffffffff00000000',
};
const frame = (hex: string) => Buffer.from(hex, 'hex');

test('a call is a 28-byte header (length, program, version, procedure, CALL, serial, OK) and its payload', () => {
  const payload = new XdrWriter().string('nope').toBuffer();
  const b = encodeCall(PROC.DOMAIN_LOOKUP_BY_NAME, 5, payload);
  assert.equal(b.length, HEADER_BYTES + payload.length);
  assert.equal(b.subarray(0, HEADER_BYTES).toString('hex'), '00000024' + '20008086' + '00000001' + '00000017' + '00000000' + '00000005' + '00000000');
  const m = decodeMessage(b);
  assert.deepEqual(m.header, { prog: REMOTE_PROGRAM, vers: 1, proc: 23, type: MSG_TYPE.CALL, serial: 5, status: MSG_STATUS.OK });
  assert.deepEqual(m.payload, payload);
});

test('captured replies decode: auth list, open, the library version', () => {
  const auth = decodeMessage(frame(CAPTURED.authList));
  assert.deepEqual(auth.header, { prog: REMOTE_PROGRAM, vers: 1, proc: PROC.AUTH_LIST, type: MSG_TYPE.REPLY, serial: 1, status: MSG_STATUS.OK });
  assert.deepEqual(
    new XdrReader(auth.payload).array((r) => r.int()),
    [0],
  );
  const open = decodeMessage(frame(CAPTURED.open));
  assert.equal(open.header.proc, PROC.CONNECT_OPEN);
  assert.equal(open.payload.length, 0);
  const v = decodeMessage(frame(CAPTURED.libVersion));
  assert.equal(new XdrReader(v.payload).uhyper(), 9000000n);
});

test('a captured error reply becomes a LibvirtError with libvirt code 42 and domain QEMU', () => {
  const m = decodeMessage(frame(CAPTURED.noDomain));
  assert.equal(m.header.status, MSG_STATUS.ERROR);
  assert.equal(m.header.serial, 5);
  const e = readRemoteError(new XdrReader(m.payload));
  assert.equal(e.code, VIR_ERR.NO_DOMAIN);
  assert.equal(e.level, 2);
  assert.equal(e.str1, 'Domain not found: %s');
  assert.equal(e.str2, "no domain with matching name 'nope'");
  assert.equal(e.int1, -1);
  const err = libvirtErrorFromReply(m.payload);
  assert.ok(err instanceof LibvirtError);
  assert.equal(err.code, 42);
  assert.equal(err.domain, VIR_FROM.QEMU);
  assert.equal(err.message, "Domain not found: no domain with matching name 'nope'");
  assert.ok(isNoDomain(err));
});

test('remote_error round-trips, with and without the optional fields', () => {
  const full: RemoteError = {
    code: 88,
    domain: 55,
    message: 'access denied',
    level: 2,
    dom: { name: 'alice-a', uuid: Buffer.alloc(16, 7), id: 3 },
    str1: 'a',
    str2: undefined,
    str3: 'c',
    int1: -1,
    int2: 4,
    net: { name: 'default', uuid: Buffer.alloc(16, 1) },
  };
  const w = new XdrWriter();
  writeRemoteError(w, full);
  const r = new XdrReader(w.toBuffer());
  assert.deepEqual(readRemoteError(r), full);
  r.end();
  const bare: RemoteError = { code: 1, domain: 0, message: undefined, level: 0, dom: undefined, str1: undefined, str2: undefined, str3: undefined, int1: 0, int2: 0, net: undefined };
  const w2 = new XdrWriter();
  writeRemoteError(w2, bare);
  const err = libvirtErrorFromReply(w2.toBuffer());
  assert.equal(err.code, 1);
  assert.equal(err.message, 'libvirt error 1');
});

test('a domain is name, 16-byte uuid, id', () => {
  const d = { name: 'gt-web', uuid: Buffer.from('00112233445566778899aabbccddeeff', 'hex'), id: -1 };
  const w = new XdrWriter();
  writeDomain(w, d);
  const b = w.toBuffer();
  assert.equal(b.length, 4 + 8 + 16 + 4);
  assert.deepEqual(readDomain(new XdrReader(b)), d);
  assert.throws(() => writeDomain(new XdrWriter(), { ...d, uuid: Buffer.alloc(4) }), XdrError);
});

test('the splitter cuts a byte stream into whole messages, however it arrives', () => {
  const a = frame(CAPTURED.libVersion);
  const b = frame(CAPTURED.noDomain);
  const all = Buffer.concat([a, b, a]);
  for (const cut of [1, 3, 4, 27, 28, 35, a.length, a.length + 1, all.length - 1]) {
    const s = new MessageSplitter();
    const out = [...s.push(all.subarray(0, cut)), ...s.push(all.subarray(cut))];
    assert.deepEqual(out, [a, b, a], `cut at ${cut}`);
  }
  // byte by byte
  const s = new MessageSplitter();
  const out: Buffer[] = [];
  for (const byte of all) out.push(...s.push(Buffer.from([byte])));
  assert.deepEqual(out, [a, b, a]);
});

test('a length below the header or above libvirt\'s maximum is a broken stream', () => {
  assert.throws(() => new MessageSplitter().push(Buffer.from('00000010', 'hex')), XdrError);
  assert.throws(() => new MessageSplitter().push(Buffer.from('7fffffff', 'hex')), XdrError);
  assert.throws(() => decodeMessage(Buffer.alloc(10)), XdrError);
  // a header that says more bytes than the message has
  const m = encodeMessage({ prog: REMOTE_PROGRAM, vers: 1, proc: 1, type: 1, serial: 1, status: 0 });
  assert.throws(() => decodeMessage(m.subarray(0, 27)), XdrError);
});
