// Row-wise .npy access so vjepa-embed never holds a whole input or output array: a reader that
// fetches batches of leading-axis rows, and an atomic writer that appends rows (temp file,
// fsync, rename). The header format matches lib/io/npy.ts.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { typedFromBytes, type HostDType, type HostTensor } from '../io/host-tensor.js';

const DESCR: Record<string, { dtype: HostDType; size: number }> = {
  '<f4': { dtype: 'float32', size: 4 },
  '<f8': { dtype: 'float64', size: 8 },
  '<i8': { dtype: 'int64', size: 8 },
  '<i4': { dtype: 'int32', size: 4 },
};

export class NpyRowReader {
  readonly dtype: HostDType;
  readonly shape: number[];
  private readonly itemSize: number;
  private readonly dataStart: number;
  private fd: number | null;

  constructor(readonly path: string) {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new Error(`cannot open ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    this.fd = fd;
    try {
      const size = fstatSync(fd).size;
      const pre = Buffer.alloc(12);
      readSync(fd, pre, 0, 12, 0);
      if (size < 10 || pre.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
      const major = pre[6];
      if (major !== 1 && major !== 2 && major !== 3) throw new Error(`${path}: unsupported .npy version ${major}`);
      const hlen = major === 1 ? pre.readUInt16LE(8) : pre.readUInt32LE(8);
      const start = major === 1 ? 10 : 12;
      if (start + hlen > size) throw new Error(`${path}: truncated .npy header`);
      const hb = Buffer.alloc(hlen);
      readSync(fd, hb, 0, hlen, start);
      const header = hb.toString(major === 3 ? 'utf8' : 'latin1');
      const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
      const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
      const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
      if (!descr || !fortran || shapeText === undefined) throw new Error(`${path}: malformed .npy header`);
      if (fortran === 'True') throw new Error(`${path}: Fortran-order arrays are not supported (save with np.ascontiguousarray)`);
      const kind = DESCR[descr];
      if (!kind) throw new Error(`${path}: dtype ${descr} is not supported here (use ${Object.keys(DESCR).join(' ')})`);
      this.dtype = kind.dtype;
      this.itemSize = kind.size;
      this.shape = shapeText
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0)
        .map((s) => Number(s.replace(/L$/, '')));
      if (this.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`${path}: bad shape (${shapeText})`);
      this.dataStart = start + hlen;
      const need = this.shape.reduce((a, b) => a * b, 1) * this.itemSize;
      if (size - this.dataStart < need) throw new Error(`${path}: data is truncated (${size - this.dataStart} of ${need} bytes)`);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  get rows(): number {
    return this.shape[0] ?? 0;
  }

  /** Rows [start, start + count) of the leading axis. */
  read(start: number, count: number): HostTensor {
    if (this.fd === null) throw new Error(`${this.path}: reader is closed`);
    const rowItems = this.shape.slice(1).reduce((a, b) => a * b, 1);
    const bytes = new Uint8Array(count * rowItems * this.itemSize);
    let off = 0;
    const pos = this.dataStart + start * rowItems * this.itemSize;
    while (off < bytes.length) {
      const n = readSync(this.fd, bytes, off, bytes.length - off, pos + off);
      if (n === 0) throw new Error(`${this.path}: unexpected end of file`);
      off += n;
    }
    return { dtype: this.dtype, shape: [count, ...this.shape.slice(1)], data: typedFromBytes(this.dtype, bytes) };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** float32 .npy written row block by row block; the file appears only when finish() succeeds. */
export class NpyRowWriter {
  private fd: number | null;
  private readonly tmp: string;
  private written = 0;
  private readonly total: number;

  constructor(readonly path: string, readonly shape: number[]) {
    this.total = shape.reduce((a, b) => a * b, 1);
    this.tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
    try {
      this.fd = openSync(this.tmp, 'wx', 0o644);
    } catch (e) {
      throw new Error(`cannot write ${path}: ${(e as Error).message}`);
    }
    this.put(npyHeader(shape));
  }

  append(data: Float32Array): void {
    if (this.written + data.length > this.total) throw new Error(`${this.path}: more data than the declared shape [${this.shape.join(', ')}]`);
    this.put(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.written += data.length;
  }

  finish(): void {
    if (this.fd === null) throw new Error(`${this.path}: writer is closed`);
    if (this.written !== this.total) throw new Error(`${this.path}: wrote ${this.written} of ${this.total} values`);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
    renameSync(this.tmp, this.path);
  }

  /** Drops the temp file (after an error). */
  abort(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        /* already failing */
      }
      this.fd = null;
    }
    try {
      unlinkSync(this.tmp);
    } catch {
      /* may be gone */
    }
  }

  private put(b: Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.path}: writer is closed`);
    let off = 0;
    while (off < b.byteLength) off += writeSync(this.fd, b, off, b.byteLength - off);
  }
}

function npyHeader(shape: number[]): Uint8Array {
  const s = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${s}, }`;
  const pre = header.length + 11 > 65535 ? 12 : 10;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header + ' '.repeat(total - pre - header.length - 1) + '\n';
  const out = Buffer.alloc(total);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = pre === 10 ? 1 : 2;
  out[7] = 0;
  if (pre === 10) out.writeUInt16LE(header.length, 8);
  else out.writeUInt32LE(header.length, 8);
  out.write(header, pre, 'latin1');
  return out;
}
