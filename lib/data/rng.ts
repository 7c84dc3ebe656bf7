// Counter-based randomness: every random decision is a pure function of integer keys
// (seed, batch index, slot, attempt, purpose), so batch k is identical whatever the
// number of workers and whether or not the run was restarted (TRAIN-13 exact resume).
import { fmix32 } from '../util/rng.js';

function mixKey(h: number, k: number): number {
  // murmur3 body step on a 32-bit key
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function hashKeys(keys: readonly number[], salt: number): number {
  let h = salt | 0;
  for (const key of keys) {
    if (!Number.isFinite(key)) throw new Error(`rng: non-finite key ${key}`);
    const k = Math.trunc(key);
    // split into two 32-bit halves so keys up to 2^53 stay distinct
    const lo = k | 0;
    const hi = Math.floor(k / 4294967296) | 0;
    h = mixKey(h, lo);
    h = mixKey(h, hi);
  }
  return fmix32(h ^ (keys.length * 4));
}

/** Purposes, so that different decisions drawn from the same position never share a stream. */
export const Purpose = {
  shuffle: 1,
  replace: 2,
  clip: 3,
  transform: 4,
  weights: 5,
} as const;

/** sfc32 generator seeded by hashing integer keys. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(...keys: number[]) {
    this.a = hashKeys(keys, 0x9e3779b9);
    this.b = hashKeys(keys, 0x243f6a88);
    this.c = hashKeys(keys, 0xb7e15162);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 bits. */
  random(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }

  /** Integer in [lo, hi] inclusive (Python random.randint semantics). */
  randint(lo: number, hi: number): number {
    if (hi < lo) throw new Error(`rng.randint: empty range [${lo}, ${hi}]`);
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  /** Standard normal (Box-Muller, caches the second value). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  gauss(mean: number, std: number): number {
    return mean + std * this.normal();
  }
}

/** Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.random() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** Python round(): half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x % 1) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}
