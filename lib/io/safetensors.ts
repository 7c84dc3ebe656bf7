// safetensors read/write: u64-LE header length, JSON header {name: {dtype, shape, data_offsets}},
// optional "__metadata__" string map, header space-padded to 8 bytes, then the raw little-endian data.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import { allocHost, bytesOf, checkHostTensor, ITEM_SIZE, numel, type HostDType, type HostTensor } from './host-tensor.js';

export * from './host-tensor.js';

const TO_ST: Record<HostDType, string> = {
  float32: 'F32',
  float64: 'F64',
  bfloat16: 'BF16',
  float16: 'F16',
  int64: 'I64',
  int32: 'I32',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_ST: Record<string, HostDType> = Object.fromEntries(Object.entries(TO_ST).map(([k, v]) => [v, k as HostDType]));

const MAX_HEADER = 100 * 1024 * 1024;

export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

function readExactly(fd: number, buf: Uint8Array, pos: number, path: string): void {
  let off = 0;
  while (off < buf.byteLength) {
    const n = readSync(fd, buf, off, buf.byteLength - off, pos + off);
    if (n === 0) throw new Error(`${path}: unexpected end of file at byte ${pos + off}`);
    off += n;
  }
}

export function readSafetensors(path: string): SafetensorsFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new Error(`${path}: not a safetensors file (${size} bytes)`);
    const lenBuf = new Uint8Array(8);
    readExactly(fd, lenBuf, 0, path);
    const hlen = Number(new DataView(lenBuf.buffer).getBigUint64(0, true));
    if (hlen > MAX_HEADER || 8 + hlen > size) throw new Error(`${path}: bad safetensors header length ${hlen} (file is ${size} bytes)`);
    const hbuf = new Uint8Array(hlen);
    readExactly(fd, hbuf, 8, path);
    let header: Record<string, any>;
    try {
      header = JSON.parse(new TextDecoder().decode(hbuf));
    } catch (e) {
      throw new Error(`${path}: safetensors header is not JSON: ${(e as Error).message}`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error(`${path}: safetensors header is not an object`);
    const dataStart = 8 + hlen;
    const dataLen = size - dataStart;
    const metadata: Record<string, string> = {};
    const tensors = new Map<string, HostTensor>();
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') {
        if (info === null || typeof info !== 'object') throw new Error(`${path}: __metadata__ must be a string map`);
        for (const [k, v] of Object.entries(info)) {
          if (typeof v !== 'string') throw new Error(`${path}: __metadata__.${k} is not a string`);
          metadata[k] = v;
        }
        continue;
      }
      const dtype = FROM_ST[info?.dtype];
      if (!dtype) throw new Error(`${path}: tensor ${name}: unsupported dtype ${JSON.stringify(info?.dtype)}`);
      const shape = info.shape;
      if (!Array.isArray(shape)) throw new Error(`${path}: tensor ${name}: missing shape`);
      const n = numel(shape);
      const [b, e] = info.data_offsets ?? [];
      if (!Number.isSafeInteger(b) || !Number.isSafeInteger(e) || b < 0 || e < b || e > dataLen) {
        throw new Error(`${path}: tensor ${name}: bad data_offsets ${JSON.stringify(info.data_offsets)} (data is ${dataLen} bytes: is the file truncated?)`);
      }
      if (e - b !== n * ITEM_SIZE[dtype]) {
        throw new Error(`${path}: tensor ${name}: ${e - b} bytes for shape [${shape.join(', ')}] of ${dtype} (expected ${n * ITEM_SIZE[dtype]})`);
      }
      const data = allocHost(dtype, n);
      readExactly(fd, new Uint8Array(data.buffer, 0, e - b), dataStart + b, path);
      tensors.set(name, { dtype, shape: [...shape], data });
    }
    return { tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/** Serialise to bytes chunks (header first). Tensors are written in iteration order. */
export function encodeSafetensors(
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array[] {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new Error(`safetensors metadata ${k}: value must be a string`);
    header.__metadata__ = metadata;
  }
  let off = 0;
  const chunks: Uint8Array[] = [];
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
    checkHostTensor(name, t);
    const nbytes = t.data.byteLength;
    header[name] = { dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [off, off + nbytes] };
    off += nbytes;
    chunks.push(bytesOf(t));
  }
  let json = JSON.stringify(header);
  let hbytes = new TextEncoder().encode(json);
  const pad = (8 - (hbytes.byteLength % 8)) % 8;
  if (pad) hbytes = new TextEncoder().encode(json + ' '.repeat(pad));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(hbytes.byteLength), true);
  return [len, hbytes, ...chunks];
}

/** Write atomically: a kill mid-write leaves any previous file at `path` intact. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
