// Seedable, serialisable PRNG (xoshiro128**) with 32-bit integer arithmetic only, so it is fast
// without BigInt and its whole state is four plain numbers (checkpoint/resume is bit-exact).
// Independent streams are derived from (seed, ...integers) by hashing the tuple, so every random
// draw in vjepa can be a pure function of (seed, counters).

/** Plain-number state: four uint32 words. JSON-safe. */
export interface RngState {
  s: [number, number, number, number];
}

/** murmur3's fmix32: a bijective avalanche on uint32. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Split a safe integer (may be negative or above 2^32) into two uint32 words. */
function words(x: number): [number, number] {
  if (!Number.isSafeInteger(x)) throw new Error(`rng: stream key ${x} is not a safe integer`);
  const lo = x >>> 0; // two's complement low word, also for negatives
  const hi = Math.floor(x / 4294967296) >>> 0;
  return [lo, hi];
}

/** Hash a tuple of integers into 4 well-mixed uint32 words (not all zero). */
function hashTuple(keys: readonly number[]): [number, number, number, number] {
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let lane = 0; lane < 4; lane++) {
    let h = fmix32(0x9e3779b9 + Math.imul(lane + 1, 0x6a09e667));
    h = fmix32(h ^ keys.length);
    for (const k of keys) {
      const [lo, hi] = words(k);
      h = fmix32((h ^ lo) + 0x7f4a7c15);
      h = fmix32((Math.imul(h, 31) ^ hi) + 0x165667b1);
    }
    out[lane] = h;
  }
  if ((out[0] | out[1] | out[2] | out[3]) === 0) out[0] = 1;
  return out;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** A stream keyed by (seed, ...keys); equal tuples give equal streams, different ones independent streams. */
  constructor(seed: number, ...keys: number[]) {
    const s = hashTuple([seed, ...keys]);
    this.s0 = s[0];
    this.s1 = s[1];
    this.s2 = s[2];
    this.s3 = s[3];
  }

  /** Same as `new Rng(seed, ...keys)`; reads better at call sites that derive sub-streams. */
  static derive(seed: number, ...keys: number[]): Rng {
    return new Rng(seed, ...keys);
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  getState(): RngState {
    return { s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0] };
  }

  setState(state: RngState): void {
    const s = state?.s;
    if (!Array.isArray(s) || s.length !== 4 || s.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new Error(`rng: invalid state ${JSON.stringify(state)} (expected {s: [4 uint32]})`);
    }
    if ((s[0] | s[1] | s[2] | s[3]) === 0) throw new Error('rng: invalid state: all-zero');
    this.s0 = s[0] | 0;
    this.s1 = s[1] | 0;
    this.s2 = s[2] | 0;
    this.s3 = s[3] | 0;
  }

  clone(): Rng {
    return Rng.fromState(this.getState());
  }

  /** Next uint32. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextU32() >>> 5; // 27 bits
    const b = this.nextU32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform integer in [lo, hiInclusive], unbiased (rejection sampling). */
  randint(lo: number, hiInclusive: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hiInclusive)) {
      throw new Error(`rng.randint: bounds must be integers, got ${lo}, ${hiInclusive}`);
    }
    if (hiInclusive < lo) throw new Error(`rng.randint: empty range [${lo}, ${hiInclusive}]`);
    const span = hiInclusive - lo + 1;
    if (span === 1) return lo;
    if (span <= 4294967296) {
      // Largest multiple of span that fits in 2^32: reject above it.
      const limit = 4294967296 - (4294967296 % span);
      for (;;) {
        const x = this.nextU32();
        if (x < limit) return lo + (x % span);
      }
    }
    for (;;) {
      const x = Math.floor(this.uniform() * 9007199254740992); // 53-bit integer
      const limit = 9007199254740992 - (9007199254740992 % span);
      if (x < limit) return lo + (x % span);
    }
  }

  /** Standard normal (Box-Muller, no cached spare so the state stays four words). */
  normal(mean = 0, std = 1): number {
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) throw new Error(`rng.permutation: n must be a non-negative integer, got ${n}`);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    this.shuffle(p);
    return p;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.randint(0, i);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
