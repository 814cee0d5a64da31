import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRaptorError } from '../core/errors.ts';
import { looksLikePrivateKey, mergeAuthorizedKeys, parsePublicKey, parsePublicKeys, PRIVATE_KEY_WARNING } from './ssh-keys.ts';

// Generated with ssh-keygen for these tests (no private halves kept).
const KEYS = {
  ed25519: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZ/H9cmNpoCbawjwCGpCKyA3ZGaCJaoYqimsfv2EnwG alice@laptop',
  rsa2048:
    'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCYTLWzxa7m57qsfmns+RunXCaWYOkbMgNMcEnm2YTDl2qdHRUGN3+QYBxMyNS+ZZfglFQcGmzilhhhA4603YteYvhC1mmJ0AMZtdG8RZnMzkyNrNRdb3yXd2o1uYbiv5kpgkfFVIH190gNyrXdNOEs3re9ha30THSLzpCJg4s7IzpHVYjRruB+b0Mt8AP+Dy3kOM+zgiZ1R54Mn9an6HXK1h1xuvGT0mZRZy/Rsbcv6wVK9N9yzVtS68A5f60AwOpOKgPcc6uqghXrjXI+LO+EA2hgxlfXQWn60m6FrqY4r9zUuYcawSocPRVdctNOBR9Bkz+PIiAr5XQryAoZfH7z root@vm',
  rsa1024:
    'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDN1SUywIHAGfv3LwAsnnUfcDW+Tark1igIx4lz9nKdI3djxMKeZb/u4izGwa7ROeJGti3QU7nQLLOcoTVx0lhpYLIXtbJjr50mCBiCqC0QNZP73CIDQI7H4leXSudqRTuNoNyaXuM720JtjQzSM1D4d5R6Kvo0R8YbkzFurGsPqQ== root@vm',
  ec256:
    'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBM/2tMRpss8X26+LoP1P9AJg3ZDUCYOUn91GVYD95T7t1uBNjJ0XmPGtmcazzZcrSdDgV/hf49BToCYwN0P5+sM= root@vm',
  ec384:
    'ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBNVZKP9A8AnnVAub1CHGiAUBDXo78+PgGpCQNxgnsMT7vhJStTGKahPPTT+v3yldE3C2qgcBakparoa45Wp5cQoZs8HpKldGUOU03coiTQf8RI3ueP6pkvFjRFrIs39AfA== root@vm',
  ec521:
    'ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAChidOnl2BpSY6QkZDKVKiXaOoH+D9mVZ6zl64GnE3M/4ML8zzsY9NTDbz1x2XUI7sY2akMpWvJ5Z9QWWUv5mdzdAFZZwkmmhsBMtatJzHq2HweTDwFtk7yj/V1zHUotC9sYz2plYtEM/66FXHqdw9vnLLsEq0T7NaOLWx6jOFW/nmkYA== root@vm',
};

const PRIVATE = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n';

const str = (b: Buffer | string) => {
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
};
const blob = (...parts: (Buffer | string)[]) => Buffer.concat(parts.map(str)).toString('base64');

const badInput = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (err: unknown) => isRaptorError(err, 'bad-input') && re.test((err as Error).message));

test('accepts every supported type and reports size and ssh-keygen fingerprint', () => {
  const ed = parsePublicKey(KEYS.ed25519);
  assert.equal(ed.type, 'ssh-ed25519');
  assert.equal(ed.comment, 'alice@laptop');
  assert.equal(ed.fingerprint, 'SHA256:pBZY5iwOt578Qb3eanJYOSzcprJKmAlgg9pA8mLqZvo');
  assert.equal(parsePublicKey(KEYS.rsa2048).bits, 2048);
  assert.equal(parsePublicKey(KEYS.rsa2048).fingerprint, 'SHA256:tpz4LfwtIrHZ47yQ/HDX5ah/i9DhwD/upzDLu+n3V2g');
  assert.equal(parsePublicKey(KEYS.ec256).bits, 256);
  assert.equal(parsePublicKey(KEYS.ec384).bits, 384);
  assert.equal(parsePublicKey(KEYS.ec521).bits, 521);
  assert.equal(parsePublicKey(KEYS.ec521).fingerprint, 'SHA256:of6/xMPzHT4U5duJRMM4f7uGNqHNYSJ+5ZPJS8wJ1CM');
});

test('accepts security-key (sk-) variants', () => {
  const sked = blob('sk-ssh-ed25519@openssh.com', Buffer.alloc(32, 7), 'ssh:');
  assert.equal(parsePublicKey(`sk-ssh-ed25519@openssh.com ${sked} yubi`).type, 'sk-ssh-ed25519@openssh.com');
  const point = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]);
  const skec = blob('sk-ecdsa-sha2-nistp256@openssh.com', 'nistp256', point, 'ssh:');
  assert.equal(parsePublicKey(`sk-ecdsa-sha2-nistp256@openssh.com ${skec}`).bits, 256);
  badInput(() => parsePublicKey(`sk-ssh-ed25519@openssh.com ${blob('sk-ssh-ed25519@openssh.com', Buffer.alloc(32))}`), /truncated/);
});

test('refuses RSA below 2048 bits, reading the modulus from the blob', () => {
  badInput(() => parsePublicKey(KEYS.rsa1024), /1024 bits is too small/);
});

test('refuses a private key with the warning, whole file or pasted line', () => {
  badInput(() => parsePublicKeys(PRIVATE), /PRIVATE key: it must never be pasted/);
  badInput(() => parsePublicKey('-----BEGIN RSA PRIVATE KEY----- MIIE...'), /PRIVATE key/);
  badInput(() => parsePublicKeys('PuTTY-User-Key-File-3: ssh-ed25519\n'), /PRIVATE key/);
  assert.ok(looksLikePrivateKey('-----BEGIN EC PRIVATE KEY-----'));
  assert.ok(!looksLikePrivateKey(KEYS.ed25519));
  assert.match(PRIVATE_KEY_WARNING, /never be pasted/);
});

test('refuses unknown types, bad base64, a mismatched embedded type, broken blobs', () => {
  badInput(() => parsePublicKey('ssh-dss AAAAB3NzaC1kc3M='), /the first word is not a supported key type: use one of ssh-ed25519/);
  badInput(() => parsePublicKey('from="10.0.0.1" ' + KEYS.ed25519), /options are not accepted/);
  badInput(() => parsePublicKey('ssh-ed25519 AAAA$$$$'), /not valid base64/);
  badInput(() => parsePublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZ'), /not valid base64/);
  badInput(() => parsePublicKey(`ssh-rsa ${KEYS.ed25519.split(' ')[1]}`), /the key type inside the key data is not ssh-rsa/);
  badInput(() => parsePublicKey(`ssh-ed25519 ${blob('ssh-ed25519', Buffer.alloc(31))}`), /32 bytes/);
  badInput(() => parsePublicKey(`ssh-ed25519 ${blob('ssh-ed25519', Buffer.alloc(32), 'extra')}`), /trailing bytes/);
  badInput(() => parsePublicKey(`ecdsa-sha2-nistp384 ${blob('ecdsa-sha2-nistp384', 'nistp256', Buffer.alloc(97, 4))}`), /the curve inside the key data is not nistp384/);
  badInput(() => parsePublicKey('ssh-ed25519'), /expected "TYPE BASE64/);
  badInput(() => parsePublicKeys('\n# only a comment\n'), /no SSH public key/);
});

test('a .pub text with several keys, comments and CRLF', () => {
  const keys = parsePublicKeys(`# laptop\r\n${KEYS.ed25519}\r\n\r\n${KEYS.ec256}\r\n`, 'keys.pub');
  assert.deepEqual(keys.map((k) => k.type), ['ssh-ed25519', 'ecdsa-sha2-nistp256']);
  badInput(() => parsePublicKeys(`${KEYS.ed25519}\n${KEYS.rsa1024}\n`, 'keys.pub'), /keys\.pub line 2: .*too small/);
});

test('merge adds only new keys (type + base64), keeps existing lines byte-identical', () => {
  const existing = `# managed by hand\nrestrict,from="10.0.0.0/8" ${KEYS.ed25519.replace('alice@laptop', 'old comment')}`;
  const ed = parsePublicKey(KEYS.ed25519);
  const ec = parsePublicKey(KEYS.ec256);
  const m = mergeAuthorizedKeys(existing, [ed, ec]);
  assert.deepEqual(m.present, [ed]);
  assert.deepEqual(m.added, [ec]);
  assert.equal(m.text, `${existing}\n${KEYS.ec256}\n`);
  const again = mergeAuthorizedKeys(m.text, [ed, ec]);
  assert.equal(again.added.length, 0);
  assert.equal(again.text, m.text);
  assert.equal(mergeAuthorizedKeys('', [ed]).text, `${KEYS.ed25519}\n`);
});

test('messages name the line and the reason, never what the text holds', () => {
  const secret = 'S3CR3T-MARKER';
  const texts = [
    `root:$y$j9T$${secret}:19000:0:99999:7:::\n`,
    `# comment\n${secret}\n`,
    `${secret} AAAA\n`,
    `ssh-ed25519 ${secret}\n`,
    `ssh-ed25519 ${Buffer.from(`\0\0\0\x0d${secret}`).toString('base64')}\n`,
    `ssh-rsa ${KEYS.ed25519.split(' ')[1]} ${secret}\nx`,
  ];
  for (const text of texts) {
    assert.throws(
      () => parsePublicKeys(text, 'keys.pub'),
      (err: unknown) => isRaptorError(err, 'bad-input') && !(err as Error).message.includes(secret) && /^keys\.pub line \d+: /.test((err as Error).message),
      text,
    );
  }
});
