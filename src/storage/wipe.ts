// Zeroing a volume before it is removed: BLKZEROOUT (blkdiscard --zeroout) in steps when the
// device offloads write-zeroes, else large aligned direct writes (dd oflag=direct); then verify.
import { realpathSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { RaptorError } from '../core/errors.ts';
import type { Runner } from '../host/runner.ts';

export interface WipeProgress {
  done: number;
  total: number;
  phase: 'zero' | 'verify';
}

export interface WipeOptions {
  stepBytes: number;
  /** false forces the zero-write loop even when the device offloads write-zeroes */
  offload: boolean;
  verify: 'sample' | 'full';
  onProgress?: (p: WipeProgress) => void;
}

export interface WipeResult {
  method: 'write-zeroes' | 'zero-write';
  bytes: number;
  verifiedBytes: number;
}

/** Bytes of write-zeroes the kernel offloads per request for this block device (0: none). */
export function writeZeroesMaxBytes(devPath: string): number {
  try {
    const dev = basename(realpathSync(devPath));
    return Number(readFileSync(`/sys/class/block/${dev}/queue/write_zeroes_max_bytes`, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

export async function zeroVolume(run: Runner, devPath: string, sizeBytes: number, opts: WipeOptions): Promise<WipeResult> {
  const offload = opts.offload && writeZeroesMaxBytes(devPath) > 0;
  const MiB4 = 4 * 1024 * 1024;
  // Steps start at storage.wipe_step and double while a step takes under a quarter second, so a
  // fast device is not slowed by process starts and progress still comes every second or so.
  // With write-zeroes offload the device does the work at GiB/s: start at 1 GiB steps.
  let step = Math.max(offload ? 256 * MiB4 : MiB4, Math.floor(opts.stepBytes / MiB4) * MiB4);
  for (let offset = 0, length = 0; offset < sizeBytes; offset += length) {
    length = Math.min(step, sizeBytes - offset);
    const t0 = performance.now();
    if (offload) {
      await run(['blkdiscard', '--zeroout', '--offset', String(offset), '--length', String(length), devPath], { timeoutMs: 600_000 });
    } else {
      await run(
        ['dd', 'if=/dev/zero', `of=${devPath}`, 'bs=4M', `seek=${offset}`, `count=${length}`, 'iflag=count_bytes', 'oflag=seek_bytes,direct', 'conv=notrunc,fdatasync', 'status=none'],
        { timeoutMs: 600_000 },
      );
    }
    opts.onProgress?.({ done: offset + length, total: sizeBytes, phase: 'zero' });
    if (performance.now() - t0 < 250 && step < 64 * 1024 ** 3) step *= 2;
  }
  const verifiedBytes = await verifyZeroes(devPath, sizeBytes, opts);
  return { method: offload ? 'write-zeroes' : 'zero-write', bytes: sizeBytes, verifiedBytes };
}

const CHUNK = 1024 * 1024;

const SAMPLE = 64 * 1024;

/** Read back and check for zeros: every byte with 'full', else the first and last 64 KiB and 64 samples spread between. */
export async function verifyZeroes(devPath: string, sizeBytes: number, opts: Pick<WipeOptions, 'verify' | 'onProgress'>): Promise<number> {
  const offsets: number[] = [];
  if (opts.verify === 'full') {
    for (let o = 0; o < sizeBytes; o += 4 * CHUNK) offsets.push(o);
  } else {
    const last = Math.max(0, sizeBytes - SAMPLE);
    offsets.push(0, last);
    const samples = 64;
    for (let i = 1; i <= samples; i++) offsets.push(Math.floor((last * i) / (samples + 1) / 4096) * 4096);
  }
  const len = opts.verify === 'full' ? 4 * CHUNK : SAMPLE;
  const buf = Buffer.alloc(len);
  // reads go through the thread pool, so the event loop (progress, signals, a server's other work) keeps running
  const fh = await open(devPath, 'r');
  let checked = 0;
  const todo = [...new Set(offsets)].sort((a, b) => a - b);
  const total = todo.reduce((sum, o) => sum + Math.min(len, sizeBytes - o), 0);
  try {
    for (const o of todo) {
      const want = Math.min(len, sizeBytes - o);
      const { bytesRead: n } = await fh.read(buf, 0, want, o);
      if (n !== want) throw new RaptorError('unexpected', `verify ${devPath}: short read at ${o}`);
      const view = buf.subarray(0, n);
      const bad = firstNonZero(view);
      if (bad >= 0) throw new RaptorError('unexpected', `verify ${devPath}: byte at offset ${o + bad} is not zero after wiping`);
      checked += n;
      opts.onProgress?.({ done: checked, total, phase: 'verify' });
    }
  } finally {
    await fh.close();
  }
  return checked;
}

function firstNonZero(b: Buffer): number {
  // Compare 8 bytes at a time; fall back to bytes for the tail.
  const words = Math.floor(b.length / 8);
  const big = new BigUint64Array(b.buffer, b.byteOffset, b.byteOffset % 8 === 0 ? words : 0);
  for (let i = 0; i < big.length; i++) {
    if (big[i] !== 0n) {
      for (let j = i * 8; j < i * 8 + 8; j++) if (b[j] !== 0) return j;
    }
  }
  for (let j = big.length * 8; j < b.length; j++) if (b[j] !== 0) return j;
  return -1;
}
