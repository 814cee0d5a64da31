// XDR (RFC 4506) encoding, as much of it as libvirt's remote protocol uses: 32-bit ints, 64-bit
// hypers, strings and opaques padded to 4 bytes, optional values ("pointers") and counted arrays.
// Pure: no sockets, so the framing and every structure are unit-tested byte for byte.

/** Where a decode met bytes that are not what the structure says (short, over a limit, bad bool). */
export class XdrError extends Error {
  constructor(message: string) {
    super(`XDR: ${message}`);
    this.name = 'XdrError';
  }
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

export class XdrWriter {
  private chunks: Buffer[] = [];
  private size = 0;

  private push(b: Buffer): this {
    this.chunks.push(b);
    this.size += b.length;
    return this;
  }

  int(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new XdrError(`int out of range: ${v}`);
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return this.push(b);
  }

  uint(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new XdrError(`unsigned int out of range: ${v}`);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return this.push(b);
  }

  bool(v: boolean): this {
    return this.int(v ? 1 : 0);
  }

  uhyper(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    return this.push(b);
  }

  hyper(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    return this.push(b);
  }

  /** variable-length opaque: length, bytes, padding */
  opaque(data: Buffer, max = Infinity): this {
    if (data.length > max) throw new XdrError(`opaque of ${data.length} bytes over its limit ${max}`);
    this.uint(data.length);
    return this.fixedOpaque(data);
  }

  /** fixed-length opaque (a UUID): bytes and padding, no length */
  fixedOpaque(data: Buffer): this {
    this.push(Buffer.from(data));
    return pad4(data.length) ? this.push(Buffer.alloc(pad4(data.length))) : this;
  }

  string(s: string, max = Infinity): this {
    return this.opaque(Buffer.from(s, 'utf8'), max);
  }

  /** optional value: a bool, then the value when present */
  optional<T>(v: T | undefined | null, write: (w: this, v: T) => void): this {
    if (v === undefined || v === null) return this.bool(false);
    this.bool(true);
    write(this, v);
    return this;
  }

  array<T>(items: readonly T[], write: (w: this, v: T) => void, max = Infinity): this {
    if (items.length > max) throw new XdrError(`array of ${items.length} over its limit ${max}`);
    this.uint(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  get length(): number {
    return this.size;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

export class XdrReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new XdrError(`needs ${n} bytes at ${this.pos}, has ${this.buf.length - this.pos}`);
  }

  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  bool(): boolean {
    const v = this.int();
    if (v !== 0 && v !== 1) throw new XdrError(`bool is ${v}`);
    return v === 1;
  }

  uhyper(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  hyper(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  fixedOpaque(n: number): Buffer {
    this.need(n + pad4(n));
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n + pad4(n);
    return v;
  }

  opaque(max = Infinity): Buffer {
    const n = this.uint();
    if (n > max) throw new XdrError(`opaque of ${n} bytes over its limit ${max}`);
    return this.fixedOpaque(n);
  }

  string(max = Infinity): string {
    return this.opaque(max).toString('utf8');
  }

  optional<T>(read: (r: this) => T): T | undefined {
    return this.bool() ? read(this) : undefined;
  }

  array<T>(read: (r: this) => T, max = Infinity): T[] {
    const n = this.uint();
    if (n > max) throw new XdrError(`array of ${n} over its limit ${max}`);
    // each element takes at least 4 bytes: a count beyond the rest of the buffer is a lie
    if (n * 4 > this.remaining) throw new XdrError(`array of ${n} in ${this.remaining} bytes`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read(this));
    return out;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** the decode used every byte (a reply with trailing bytes is of another shape than expected) */
  end(): void {
    if (this.remaining !== 0) throw new XdrError(`${this.remaining} bytes left over`);
  }
}
