import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRaptorError } from '../core/errors.ts';
import { openRegularFile, readBoundedText } from './files.ts';

const dir = mkdtempSync(join(tmpdir(), 'raptor-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const refused = (path: string, re: RegExp, kind = 'bad-input' as const) =>
  assert.throws(() => readBoundedText(path, '--ssh-key', 64 * 1024), (e: unknown) => isRaptorError(e, kind) && re.test((e as Error).message), path);

test('reads a regular file, also through a symbolic link', () => {
  writeFileSync(join(dir, 'k.pub'), 'ssh-ed25519 AAAA x\n');
  symlinkSync(join(dir, 'k.pub'), join(dir, 'link.pub'));
  assert.equal(readBoundedText(join(dir, 'k.pub'), 'k', 1024), 'ssh-ed25519 AAAA x\n');
  assert.equal(readBoundedText(join(dir, 'link.pub'), 'k', 1024), 'ssh-ed25519 AAAA x\n');
});

test('devices, FIFOs, directories and sockets are refused without opening or blocking', async () => {
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  symlinkSync('/dev/zero', join(dir, 'zero-link'));
  const sock = join(dir, 'sock');
  const server = createServer().listen(sock);
  await new Promise((r) => server.once('listening', r));
  try {
    const t0 = Date.now();
    refused('/dev/zero', /"\/dev\/zero": a character device, not a regular file/);
    refused(join(dir, 'zero-link'), /a character device, not a regular file/);
    refused(join(dir, 'fifo'), /a FIFO, not a regular file/);
    refused(dir, /a directory, not a regular file/);
    refused(sock, /a socket, not a regular file/);
    assert.ok(Date.now() - t0 < 1000, 'nothing blocked');
  } finally {
    server.close();
  }
});

test('a size cap, missing files, and text that is not UTF-8', () => {
  writeFileSync(join(dir, 'big'), '');
  truncateSync(join(dir, 'big'), 50 * 1024 * 1024);
  refused(join(dir, 'big'), /larger than the 64 KiB such a file may have/);
  writeFileSync(join(dir, 'exact'), Buffer.alloc(64 * 1024, 0x41));
  assert.equal(readBoundedText(join(dir, 'exact'), 'k', 64 * 1024).length, 64 * 1024);
  writeFileSync(join(dir, 'bin'), Buffer.from([0xff, 0xfe, 0x00]));
  refused(join(dir, 'bin'), /not UTF-8 text/);
  refused(join(dir, 'missing'), /cannot read the file \(ENOENT\)/);
  assert.throws(() => readBoundedText(join(dir, 'missing'), 'TSIG key file', 1024, { missing: 'not-found' }), (e: unknown) => isRaptorError(e, 'not-found'));
  // a newline in the path is escaped in the message
  refused(join(dir, 'a\nb'), /a\\nb/);
});

test('openRegularFile hands back the open descriptor with its fstat', () => {
  writeFileSync(join(dir, 'img'), Buffer.alloc(4096));
  const f = openRegularFile(join(dir, 'img'), 'image');
  try {
    assert.equal(f.stat.size, 4096);
    assert.ok(f.stat.isFile());
  } finally {
    f.close();
  }
});
