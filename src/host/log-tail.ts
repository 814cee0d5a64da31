// Following a log file that another process writes (virtlogd's console logs): each read returns
// only the bytes added since the last one, from one open descriptor.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

const READ_BYTES = 64 * 1024;

/**
 * The text appended to `path` since the last `read()`. A file that is not there yet reads as
 * nothing; one truncated, or replaced by a new file (virtlogd on a restart of the guest), is
 * read again from its start.
 */
export class LogTail {
  #fh: FileHandle | undefined;
  #ino = -1;
  #offset = 0;
  #decoder = new StringDecoder('utf8');
  readonly #buf = Buffer.alloc(READ_BYTES);

  constructor(readonly path: string) {}

  async read(): Promise<string> {
    await this.#follow();
    const fh = this.#fh;
    if (!fh) return '';
    const size = (await fh.stat()).size;
    if (size < this.#offset) this.#restart(); // truncated in place
    let text = '';
    while (this.#offset < size) {
      const { bytesRead } = await fh.read(this.#buf, 0, Math.min(READ_BYTES, size - this.#offset), this.#offset);
      if (bytesRead === 0) break;
      this.#offset += bytesRead;
      text += this.#decoder.write(this.#buf.subarray(0, bytesRead));
    }
    return text;
  }

  async close(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
  }

  /** Open the file when it appears, and again when the path names another file now. */
  async #follow(): Promise<void> {
    let ino: number;
    try {
      ino = (await stat(this.path)).ino;
    } catch {
      return; // not there (yet, or for the moment): keep what is open, if anything
    }
    if (this.#fh && ino === this.#ino) return;
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch {
      return;
    }
    await this.close();
    this.#fh = fh;
    this.#ino = (await fh.stat()).ino;
    this.#restart();
  }

  #restart(): void {
    this.#offset = 0;
    this.#decoder = new StringDecoder('utf8');
  }
}
