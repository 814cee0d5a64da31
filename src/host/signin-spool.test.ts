// The spool proof as a hostile tenant would try it: links, symlinks, FIFOs, loose modes, replays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRaptorError } from '../core/errors.ts';
import { checkSpoolDirForClient, PROOF_MAX_AGE_MS, redeemProof, sweepStaleProofs } from './signin-spool.ts';

const NAME = 'a'.repeat(64);
const NONCE = '0123456789abcdef'.repeat(4);
const proofText = (nonce = NONCE) => `raptor-web-proof-v1 ${nonce}\n`;

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'raptor-spool-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const refusedWith = (re: RegExp) => (err: unknown) => isRaptorError(err, 'not-allowed') && re.test((err as Error).message);

test('a proof names its owner and is good once', () => {
  withDir((dir) => {
    writeFileSync(join(dir, NAME), proofText(), { mode: 0o600 });
    assert.deepEqual(redeemProof(dir, NAME, NONCE), { uid: process.getuid!() });
    assert.equal(existsSync(join(dir, NAME)), false, 'the server deletes it');
    assert.throws(() => redeemProof(dir, NAME, NONCE), refusedWith(/no such proof/));
  });
});

test('a wrong nonce is refused and the file stays for its owner to remove', () => {
  withDir((dir) => {
    writeFileSync(join(dir, NAME), proofText(), { mode: 0o600 });
    assert.throws(() => redeemProof(dir, NAME, 'f'.repeat(64)), refusedWith(/nonce/));
    assert.equal(existsSync(join(dir, NAME)), true);
  });
});

test('names and nonces other than 64 hex digits are bad input (no path can be smuggled)', () => {
  withDir((dir) => {
    for (const [name, nonce] of [['../etc/passwd', NONCE], [`${'a'.repeat(63)}/`, NONCE], [NAME.toUpperCase(), NONCE], [NAME, 'x']]) {
      assert.throws(() => redeemProof(dir, name!, nonce!), (e: unknown) => isRaptorError(e, 'bad-input'));
    }
  });
});

test('a symlink to a proof is not followed', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'real'), proofText(), { mode: 0o600 });
    symlinkSync(join(dir, 'real'), join(dir, NAME));
    assert.throws(() => redeemProof(dir, NAME, NONCE), refusedWith(/cannot open it \(ELOOP\)/));
  });
});

test('a hard link (someone else\'s file linked in) is refused', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'elsewhere'), proofText(), { mode: 0o600 });
    linkSync(join(dir, 'elsewhere'), join(dir, NAME));
    assert.throws(() => redeemProof(dir, NAME, NONCE), refusedWith(/other links/));
    assert.equal(existsSync(join(dir, NAME)), true);
  });
});

test('a file others could read or write, a stale one, or one that is not a proof is refused', () => {
  withDir((dir) => {
    const p = join(dir, NAME);
    writeFileSync(p, proofText(), { mode: 0o600 });
    chmodSync(p, 0o640);
    assert.throws(() => redeemProof(dir, NAME, NONCE), refusedWith(/readable or writable by others/));
    chmodSync(p, 0o600);
    const old = (Date.now() - 10 * 60_000) / 1000;
    utimesSync(p, old, old);
    assert.throws(() => redeemProof(dir, NAME, NONCE), refusedWith(/stale/));
    writeFileSync(p, `${proofText()}extra`, { mode: 0o600 });
    assert.throws(() => redeemProof(dir, NAME, NONCE), refusedWith(/not a proof/));
  });
});

test('a FIFO or a directory at the name is refused without blocking', () => {
  withDir((dir) => {
    execFileSync('mkfifo', [join(dir, NAME)]);
    assert.throws(() => redeemProof(dir, NAME, NONCE), refusedWith(/not a regular file/));
    rmSync(join(dir, NAME));
    execFileSync('mkdir', [join(dir, NAME)]);
    assert.throws(() => redeemProof(dir, NAME, NONCE), refusedWith(/not a regular file/));
  });
});

test('the client refuses a spool that is not a root-owned sticky directory', () => {
  withDir((dir) => {
    chmodSync(dir, 0o777);
    assert.throws(() => checkSpoolDirForClient(dir), (e: unknown) => isRaptorError(e, 'not-allowed') || isRaptorError(e, 'unexpected'));
    assert.throws(() => checkSpoolDirForClient(join(dir, 'missing')), /missing/);
  });
});

test('proofs nobody redeemed are swept once they are well past their age; fresh ones stay', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'old'), proofText(), { mode: 0o600 });
    writeFileSync(join(dir, 'new'), proofText(), { mode: 0o600 });
    const old = (Date.now() - 3 * PROOF_MAX_AGE_MS) / 1000;
    utimesSync(join(dir, 'old'), old, old);
    assert.equal(sweepStaleProofs(dir), 1);
    assert.equal(existsSync(join(dir, 'old')), false);
    assert.equal(existsSync(join(dir, 'new')), true);
  });
});
