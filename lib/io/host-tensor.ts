// Plain host-side tensors used by the file readers/writers (no native memory involved).

// Typed arrays use the platform byte order; every supported file format is little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('vjepa io: big-endian hosts are not supported');

export type HostDType = 'float32' | 'float64' | 'bfloat16' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool';

export type HostData = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;

/** Row-major (C order) tensor. bfloat16/float16 hold raw 16-bit patterns in a Uint16Array; bool is 0/1 bytes. */
export interface HostTensor {
  dtype: HostDType;
  shape: number[];
  data: HostData;
}

export const ITEM_SIZE: Record<HostDType, number> = {
  float32: 4,
  float64: 8,
  bfloat16: 2,
  float16: 2,
  int64: 8,
  int32: 4,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`bad dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

/** A typed array of the right class viewing a copy of `bytes` (always aligned). */
export function typedFromBytes(dtype: HostDType, bytes: Uint8Array): HostData {
  const size = ITEM_SIZE[dtype];
  if (bytes.byteLength % size !== 0) throw new Error(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  const buf = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buf).set(bytes);
  return typedOnBuffer(dtype, buf);
}

/** A typed array of `dtype` over buf (all of it, or `length` elements from `byteOffset`, which must be aligned). */
export function typedOnBuffer(dtype: HostDType, buf: ArrayBuffer, byteOffset = 0, length?: number): HostData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf, byteOffset, length);
    case 'float64':
      return new Float64Array(buf, byteOffset, length);
    case 'bfloat16':
    case 'float16':
      return new Uint16Array(buf, byteOffset, length);
    case 'int64':
      return new BigInt64Array(buf, byteOffset, length);
    case 'int32':
      return new Int32Array(buf, byteOffset, length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf, byteOffset, length);
  }
}

export function allocHost(dtype: HostDType, n: number): HostData {
  return typedOnBuffer(dtype, new ArrayBuffer(n * ITEM_SIZE[dtype]));
}

const EXPECTED_CLASS: Record<HostDType, string> = {
  float32: 'Float32Array',
  float64: 'Float64Array',
  bfloat16: 'Uint16Array',
  float16: 'Uint16Array',
  int64: 'BigInt64Array',
  int32: 'Int32Array',
  uint8: 'Uint8Array',
  bool: 'Uint8Array',
};

export function checkHostTensor(name: string, t: HostTensor): void {
  if (!(t.dtype in ITEM_SIZE)) throw new Error(`tensor ${name}: unknown dtype ${t.dtype}`);
  const cls = t.data?.constructor?.name;
  if (cls !== EXPECTED_CLASS[t.dtype]) throw new Error(`tensor ${name}: dtype ${t.dtype} needs a ${EXPECTED_CLASS[t.dtype]}, got ${cls}`);
  const n = numel(t.shape);
  if (t.data.length !== n) throw new Error(`tensor ${name}: shape [${t.shape.join(', ')}] needs ${n} elements, data has ${t.data.length}`);
}

export function bytesOf(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bit patterns -> float32 (exact). */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const o32 = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) o32[i] = src[i] << 16;
  return out;
}

/** float32 -> bfloat16 bit patterns, round to nearest even (NaN stays NaN). */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i];
    const x = u32[0];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** IEEE half bit patterns -> float32 (exact, incl. subnormals, inf, NaN). */
export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) out[i] = s * m * 2 ** -24;
    else if (e === 31) out[i] = m ? NaN : s * Infinity;
    else out[i] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

/** Any floating host tensor as float32 data (copy for 16/64-bit, same array for float32). */
export function toFloat32(t: HostTensor): Float32Array {
  switch (t.dtype) {
    case 'float32':
      return t.data as Float32Array;
    case 'bfloat16':
      return bf16ToF32(t.data as Uint16Array);
    case 'float16':
      return f16ToF32(t.data as Uint16Array);
    case 'float64':
      return Float32Array.from(t.data as Float64Array);
    case 'int32':
    case 'uint8':
    case 'bool':
      return Float32Array.from(t.data as Int32Array);
    case 'int64':
      return Float32Array.from(t.data as BigInt64Array, (v) => Number(v));
  }
}
