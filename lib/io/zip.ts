// Minimal read-only zip reader (stored + deflate, zip64) with positional reads, so large checkpoint
// archives are never loaded whole: entries are read on demand.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

function readAt(fd: number, pos: number, len: number, path: string): Buffer {
  const buf = Buffer.alloc(len);
  let off = 0;
  while (off < len) {
    const n = readSync(fd, buf, off, len - off, pos + off);
    if (n === 0) throw new Error(`${path}: truncated zip (wanted ${len} bytes at ${pos})`);
    off += n;
  }
  return buf;
}

const u64 = (b: Buffer, o: number) => Number(b.readBigUInt64LE(o));

export class ZipReader {
  readonly path: string;
  readonly entries = new Map<string, ZipEntry>();
  private fd: number;

  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'r');
    try {
      this.readDirectory();
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  static isZip(head: Uint8Array): boolean {
    return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
  }

  private readDirectory(): void {
    const size = fstatSync(this.fd).size;
    const tailLen = Math.min(size, 65535 + 22 + 20);
    const tail = readAt(this.fd, size - tailLen, tailLen, this.path);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${this.path}: not a zip archive (no end-of-central-directory record)`);
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) throw new Error(`${this.path}: zip64 locator missing`);
      const z64 = readAt(this.fd, u64(tail, loc + 8), 56, this.path);
      if (z64.readUInt32LE(0) !== 0x06064b50) throw new Error(`${this.path}: bad zip64 end record`);
      count = u64(z64, 32);
      cdSize = u64(z64, 40);
      cdOffset = u64(z64, 48);
    }
    const cd = readAt(this.fd, cdOffset, cdSize, this.path);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${this.path}: bad central directory entry ${i}`);
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) (size = u64(cd, q)), (q += 8);
          if (compressedSize === 0xffffffff) (compressedSize = u64(cd, q)), (q += 8);
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(cd, q);
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = eEnd + commentLen;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  read(name: string): Buffer {
    const ent = this.entries.get(name);
    if (!ent) throw new Error(`${this.path}: no entry ${name} in the archive`);
    const lh = readAt(this.fd, ent.localHeaderOffset, 30, this.path);
    if (lh.readUInt32LE(0) !== 0x04034b50) throw new Error(`${this.path}: bad local header for ${name}`);
    const dataPos = ent.localHeaderOffset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
    const raw = readAt(this.fd, dataPos, ent.compressedSize, this.path);
    if (ent.method === 0) return raw;
    if (ent.method === 8) {
      const out = inflateRawSync(raw);
      if (out.length !== ent.size) throw new Error(`${this.path}: ${name} inflated to ${out.length} bytes, expected ${ent.size}`);
      return out;
    }
    throw new Error(`${this.path}: ${name} uses unsupported zip compression method ${ent.method}`);
  }

  close(): void {
    closeSync(this.fd);
  }
}
