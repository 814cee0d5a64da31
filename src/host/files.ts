// Reading files whose paths users give (keys, configs, images): regular files only, never a device,
// FIFO, socket or directory, never blocking, never more than a cap; messages never show the contents.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { RaptorError, type ErrorKind } from '../core/errors.ts';
import { quoteInput } from '../core/quote.ts';
import { formatSize } from '../core/size.ts';

/** Largest SSH key file accepted: a few dozen keys fit; /dev/zero or a 50 MB log do not. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;
/** Largest raptor config accepted. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** Largest TSIG key file accepted. */
export const MAX_TSIG_KEY_FILE_BYTES = 64 * 1024;

/** What a non-regular file is, in words. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

export interface FileErrorKinds {
  /** the path does not exist (default: bad input) */
  missing?: ErrorKind;
  /** permission denied (default: bad input) */
  denied?: ErrorKind;
}

export interface OpenFile {
  fd: number;
  /** fstat of the open descriptor: what is read is this file, whatever the path names later */
  stat: Stats;
  close(): void;
}

function openError(err: unknown, label: string, kinds: FileErrorKinds): RaptorError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const kind: ErrorKind = code === 'ENOENT' ? (kinds.missing ?? 'bad-input') : code === 'EACCES' || code === 'EPERM' ? (kinds.denied ?? 'bad-input') : 'bad-input';
  const what: Record<string, string> = { ENXIO: ': not a regular file (a socket?)', ELOOP: ': too many symbolic links' };
  return new RaptorError(kind, `${label}: cannot read the file (${code})${what[code] ?? ''}`);
}

/**
 * Open a user-named path for reading only if it is a regular file (symbolic links are followed).
 * The path is stat'ed before it is opened, so a device or FIFO is never opened; the open is
 * non-blocking and the open descriptor is checked again, so a swap in between is caught too.
 */
export function openRegularFile(path: string, what: string, kinds: FileErrorKinds = {}): OpenFile {
  const label = `${what} ${quoteInput(path)}`;
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    throw openError(err, label, kinds);
  }
  if (!st.isFile()) throw new RaptorError('bad-input', `${label}: ${fileKind(st)}, not a regular file`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw openError(err, label, kinds);
  }
  const fst = fstatSync(fd);
  if (!fst.isFile()) {
    closeSync(fd);
    throw new RaptorError('bad-input', `${label}: ${fileKind(fst)}, not a regular file (it was replaced while being opened)`);
  }
  let closed = false;
  return {
    fd,
    stat: fst,
    close: () => {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}

/** A user-named regular file's text, at most `maxBytes`; UTF-8 only. Errors name the path, never the contents. */
export function readBoundedText(path: string, what: string, maxBytes: number, kinds: FileErrorKinds = {}): string {
  const label = `${what} ${quoteInput(path)}`;
  const f = openRegularFile(path, what, kinds);
  try {
    const tooBig = () => new RaptorError('bad-input', `${label}: larger than the ${formatSize(maxBytes)} such a file may have`);
    if (f.stat.size > maxBytes) throw tooBig();
    // read to the cap + 1 whatever the size says: /proc files say 0, a file may grow meanwhile
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      let got: number;
      try {
        got = readSync(f.fd, buf, n, buf.length - n, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        throw new RaptorError('bad-input', `${label}: cannot read it: ${code === 'EAGAIN' ? 'it would block' : code}`);
      }
      if (got === 0) break;
      n += got;
      if (n > maxBytes) throw tooBig();
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n));
    } catch {
      throw new RaptorError('bad-input', `${label}: not UTF-8 text`);
    }
  } finally {
    f.close();
  }
}
