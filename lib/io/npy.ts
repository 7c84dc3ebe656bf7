// .npy read/write (format v1/v2/v3 headers; '<f4' '<f8' '<i8' '<i4' '|u1' '|b1'; C order only).
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import { bytesOf, checkHostTensor, numel, typedFromBytes, type HostDType, type HostTensor } from './host-tensor.js';

const DESCR_TO: Record<string, HostDType> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<f2': 'float16',
  '<i8': 'int64',
  '<i4': 'int32',
  '|u1': 'uint8',
  '<u1': 'uint8',
  '|b1': 'bool',
};
const TO_DESCR: Partial<Record<HostDType, string>> = {
  float32: '<f4',
  float64: '<f8',
  float16: '<f2',
  int64: '<i8',
  int32: '<i4',
  uint8: '|u1',
  bool: '|b1',
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function parseNpy(buf: Uint8Array, file = '(npy)'): HostTensor {
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let hlen: number;
  let start: number;
  if (major === 1) {
    hlen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    hlen = dv.getUint32(8, true);
    start = 12;
  } else throw new Error(`${file}: unsupported .npy version ${major}`);
  if (start + hlen > buf.length) throw new Error(`${file}: truncated .npy header`);
  const header = Buffer.from(buf.subarray(start, start + hlen)).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`${file}: malformed .npy header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new Error(`${file}: Fortran-order arrays are not supported (save with np.ascontiguousarray)`);
  const dtype = DESCR_TO[descr];
  if (!dtype) throw new Error(`${file}: unsupported .npy dtype ${descr} (supported: ${Object.keys(DESCR_TO).join(' ')})`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const v = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${file}: bad shape entry ${s}`);
      return v;
    });
  const dataStart = start + hlen;
  const n = numel(shape);
  const itemBytes = { float32: 4, float64: 8, float16: 2, int64: 8, int32: 4, uint8: 1, bool: 1, bfloat16: 2 }[dtype];
  if (buf.length - dataStart < n * itemBytes) throw new Error(`${file}: .npy data is truncated (${buf.length - dataStart} of ${n * itemBytes} bytes)`);
  const data = typedFromBytes(dtype, buf.subarray(dataStart, dataStart + n * itemBytes));
  return { dtype, shape, data };
}

export function readNpy(path: string): HostTensor {
  return parseNpy(readFileSync(path), path);
}

export function encodeNpy(t: HostTensor): Uint8Array[] {
  checkHostTensor('npy', t);
  const descr = TO_DESCR[t.dtype];
  if (!descr) throw new Error(`npy: dtype ${t.dtype} has no .npy equivalent`);
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad so the data starts on a 64-byte boundary; the header ends with '\n'.
  let major = 1;
  let pre = 10;
  if (header.length + 1 + pre > 65535) (major = 2), (pre = 12);
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header + ' '.repeat(total - pre - header.length - 1) + '\n';
  const head = new Uint8Array(pre);
  head.set(MAGIC);
  head[6] = major;
  head[7] = 0;
  const dv = new DataView(head.buffer);
  if (major === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  return [head, Buffer.from(header, 'latin1'), bytesOf(t)];
}

/** Atomic write. */
export function writeNpy(path: string, t: HostTensor): void {
  writeFileAtomic(path, encodeNpy(t));
}
