// Disk images from users (`vm create --image`): one self-contained layer in a regular file, read
// so that qemu-img cannot open anything else. The header is checked by raptor before qemu-img
// looks; qemu-img's own view of the whole chain must agree; the conversion names the driver,
// forbids a backing file and reads the very file that was checked, through an inherited descriptor.
import { copyFileSync, mkdtempSync, readSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { badInput, RaptorError } from '../core/errors.ts';
import { HEADER_PROBE_BYTES, probeImageHeader, strictSource, type ImageFormat } from '../core/image-header.ts';
import { quoteInput } from '../core/quote.ts';
import { formatSize } from '../core/size.ts';
import { openRegularFile, type OpenFile } from '../host/files.ts';
import type { Runner } from '../host/runner.ts';

export interface CheckedImage {
  format: ImageFormat;
  virtualSize: number;
}

/** procfs, sysfs, debugfs, securityfs, configfs, tracefs, efivarfs, cgroup2, bpf (statfs f_type). */
const PSEUDO_FILESYSTEMS = new Set([0x9fa0, 0x62656572, 0x64626720, 0x73636673, 0x62656570, 0x74726163, 0xde5e81e4, 0x63677270, 0xcafe4a11]);

/** The image as qemu-img sees the descriptor it inherits as fd 3. */
const INHERITED = '/dev/fd/3';

function readHeader(f: OpenFile): Uint8Array {
  const buf = Buffer.alloc(Math.min(HEADER_PROBE_BYTES, Math.max(0, f.stat.size)));
  let n = 0;
  while (n < buf.length) {
    const got = readSync(f.fd, buf, n, buf.length - n, n);
    if (got === 0) break;
    n += got;
  }
  return buf.subarray(0, n);
}

interface QemuImgInfo {
  filename?: string;
  format?: string;
  'virtual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  encrypted?: boolean;
  'format-specific'?: { data?: { 'data-file'?: string } };
}

/**
 * Check an open image: raptor's own header verdict first (so qemu-img never opens a backing or data
 * file), then `qemu-img info --backing-chain` on the same descriptor, which must show one layer.
 */
async function checkOpenImage(run: Runner, f: OpenFile, label: string): Promise<CheckedImage> {
  // kernel pseudo-files (/proc/kcore, /sys/...) are regular files, but no one's disk image
  const fsType = statfsSync(`/proc/self/fd/${f.fd}`).type;
  if (PSEUDO_FILESYSTEMS.has(fsType)) throw badInput(`${label} is a kernel pseudo-file (/proc, /sys and the like), not a disk image`);
  const verdict = probeImageHeader(readHeader(f));
  if (verdict.format === 'other') throw badInput(`${label} is a ${verdict.name} image: raw or qcow2 allowed`);
  if (verdict.format === 'qcow2' && verdict.problems.length) {
    throw badInput(`${label} is not a self-contained qcow2 image: ${verdict.problems.join('; ')}`);
  }
  let chain: QemuImgInfo[];
  try {
    // qemu probes the format itself here: a second opinion on raptor's reading of the header
    const out = await run(['qemu-img', 'info', '--output=json', '--backing-chain', INHERITED], { fd3: f.fd, timeoutMs: 60_000 });
    chain = JSON.parse(out.stdout) as QemuImgInfo[];
  } catch (err) {
    throw badInput(`${label} cannot be read by qemu-img as ${verdict.format}: ${err instanceof RaptorError ? err.message.replace(/^.*: /, '') : String(err)}`);
  }
  const top = chain[0];
  const why: string[] = [];
  if (!Array.isArray(chain) || chain.length !== 1 || !top) why.push(`qemu-img sees a chain of ${Array.isArray(chain) ? chain.length : '?'} layers`);
  else {
    if (top.format !== verdict.format) why.push(`qemu-img reads it as ${top.format ?? 'unknown'}, its header says ${verdict.format}`);
    if (top['backing-filename'] !== undefined || top['full-backing-filename'] !== undefined) why.push('qemu-img sees a backing file');
    if (top['format-specific']?.data?.['data-file'] !== undefined) why.push('qemu-img sees an external data file');
    if (top.encrypted) why.push('it is encrypted');
    if (top.filename !== INHERITED) why.push('qemu-img opened another file');
  }
  if (why.length) throw badInput(`${label} is not one self-contained layer: ${why.join('; ')}`);
  const virtualSize = Number(top!['virtual-size']);
  if (!Number.isSafeInteger(virtualSize) || virtualSize <= 0) throw badInput(`${label}: qemu-img reports no usable virtual size`);
  return { format: verdict.format, virtualSize };
}

const labelOf = (path: string) => `image ${quoteInput(path, 200)}`;

/** Inspect a user-named image before any change: a regular file, raw or standalone qcow2 (exit 2 otherwise). */
export async function inspectImageFile(run: Runner, path: string): Promise<CheckedImage> {
  const f = openRegularFile(path, 'image');
  try {
    return await checkOpenImage(run, f, labelOf(path));
  } finally {
    f.close();
  }
}

/**
 * Only root can change a root-owned file that is not group- or world-writable; anyone else who
 * can write the file could rewrite its header between the check and qemu-img's open.
 */
export const othersCanWrite = (st: { uid: number; mode: number }): boolean => st.uid !== 0 || (st.mode & 0o022) !== 0;

/** Where a private copy of a qcow2 that others can write is made while it is converted. */
export const stagingDir = (): string => process.env.TMPDIR || '/var/tmp';

/**
 * Write the image onto `target` (raw). The file is opened and checked again here (it may have
 * changed since the plan was made); qemu-img reads that open file with the checked format and no
 * backing file. A qcow2 that others can write is first copied to a private file, so its header
 * cannot change under qemu-img (a raw image reads only its own bytes, whatever happens to it).
 */
export async function writeImageFile(
  run: Runner,
  opts: { image: string; format: ImageFormat; virtualSize: number; target: string; onProgress?: (done: number, total: number) => void },
): Promise<void> {
  const label = labelOf(opts.image);
  let f = openRegularFile(opts.image, 'image');
  let staged: string | undefined;
  try {
    if (opts.format === 'qcow2' && othersCanWrite(f.stat)) {
      staged = mkdtempSync(join(stagingDir(), 'raptor-image-'));
      const copy = join(staged, 'image.qcow2');
      // the descriptor's own inode (not the path, which may name another file by now)
      copyFileSync(`/proc/self/fd/${f.fd}`, copy);
      f.close();
      f = openRegularFile(copy, 'image copy');
    }
    const checked = await checkOpenImage(run, f, label);
    if (checked.format !== opts.format) throw badInput(`${label} changed since it was inspected: it is ${checked.format} now, was ${opts.format}`);
    if (checked.virtualSize !== opts.virtualSize) throw badInput(`${label} changed since it was inspected: ${formatSize(checked.virtualSize)}, was ${formatSize(opts.virtualSize)}`);
    await run(['qemu-img', 'convert', '-p', '-n', '-O', 'raw', '-t', 'none', strictSource(opts.format, INHERITED), opts.target], {
      fd3: f.fd,
      timeoutMs: 3_600_000,
      ...(opts.onProgress ? { onStdout: qemuImgProgress(opts.virtualSize, opts.onProgress) } : {}),
    });
  } finally {
    f.close();
    if (staged) rmSync(staged, { recursive: true, force: true });
  }
}

/**
 * qemu-img's `-p` output ("    (12.34/100%)\r", over and over) as bytes of the image's virtual
 * size: it reports only a percentage of the work, so done = that share of the virtual size.
 */
export function qemuImgProgress(virtualSize: number, onProgress: (done: number, total: number) => void): (chunk: string) => void {
  let pending = '';
  let last = -1;
  return (chunk) => {
    pending += chunk;
    const marks = [...pending.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
    const end = marks.at(-1);
    if (!end) {
      pending = pending.slice(-64); // a mark split across chunks
      return;
    }
    pending = pending.slice(end.index + end[0].length);
    const pct = Math.min(100, Number(end[1]));
    const done = Math.round((pct / 100) * virtualSize);
    if (done === last) return;
    last = done;
    onProgress(done, virtualSize);
  };
}
