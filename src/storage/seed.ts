// The NoCloud seed on disk: a FAT image labelled CIDATA made with mkfs.vfat and mtools (no loop
// device, no mount), written beside its final name and renamed into place, so it is whole or absent.
import { chmodSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SEED_LABEL } from '../core/cloud-init.ts';
import type { Runner } from '../host/runner.ts';
import { ensureSafeDir } from '../host/trusted-files.ts';

/**
 * The seed directory is root's, and lists for no one else (0711): qemu runs as its own user and
 * must traverse it to open the one file libvirt hands it (libvirt chowns that file at start).
 */
export const SEED_DIR_MODE = 0o711;
export const SEED_FILE_MODE = 0o600;

/** FAT needs room for its tables besides the two files; 1 MiB holds any normal seed. */
export function seedImageKiB(files: { metaData: string; userData: string }): number {
  const bytes = Buffer.byteLength(files.metaData) + Buffer.byteLength(files.userData);
  return Math.max(1024, Math.ceil((bytes * 2) / 1024) + 512);
}

/** Create the seed directory root-only; refuse one others own or can write (they could swap a seed). */
export function ensureSeedDir(dir: string): void {
  ensureSafeDir(dir, SEED_DIR_MODE, 'the seed directory');
  if ((statSync(dir).mode & 0o777) !== SEED_DIR_MODE) chmodSync(dir, SEED_DIR_MODE);
}

export async function writeSeed(run: Runner, path: string, files: { metaData: string; userData: string }): Promise<void> {
  const dir = dirname(path);
  ensureSeedDir(dir);
  const tmp = mkdtempSync(join(dir, '.seed-'));
  try {
    writeFileSync(join(tmp, 'meta-data'), files.metaData, { mode: 0o600 });
    writeFileSync(join(tmp, 'user-data'), files.userData, { mode: 0o600 });
    const img = join(tmp, 'cidata.img');
    await run(['mkfs.vfat', '-C', '-n', SEED_LABEL, img, String(seedImageKiB(files))], { timeoutMs: 30_000 });
    await run(['mcopy', '-i', img, join(tmp, 'meta-data'), join(tmp, 'user-data'), '::/'], { timeoutMs: 30_000, env: { MTOOLS_SKIP_CHECK: '1' } });
    chmodSync(img, SEED_FILE_MODE);
    renameSync(img, path);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function removeSeed(path: string): void {
  rmSync(path, { force: true });
}
