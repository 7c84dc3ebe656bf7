// Initialisers (MOD-05). trunc-normal(σ) truncates at the absolute bounds ±2, as the
// original's helper does, which at σ = 0.02 is a plain normal in practice.
import { native } from '../native.js';
import { Tensor } from '../tensor.js';

/**
 * A small seeded generator for weights (splitmix64-seeded xorshift128+, Box-Muller normals). The
 * 64-bit state lives in 32-bit halves in a typed array: BigInt arithmetic, or uint32 values in
 * object fields (boxed by V8 once above 2^30), made a ViT-L's init take minutes.
 */
export class InitRng {
  // [s0 high, s0 low, s1 high, s1 low], unsigned
  private readonly st = new Uint32Array(4);
  private hasSpare = false;
  private spare = 0;
  /**
   * Initialisers given this leave their tensors uninitialised: for weights the caller fills at
   * once (the target encoder, a copy of the context encoder), which draw nothing.
   */
  static uninitialised(): InitRng {
    return new InitRng(0, true);
  }
  constructor(
    seed: number,
    readonly skip = false,
  ) {
    let z = BigInt.asUintN(64, BigInt(seed) + 0x9e3779b97f4a7c15n);
    const next = () => {
      z = BigInt.asUintN(64, z + 0x9e3779b97f4a7c15n);
      let x = z;
      x = BigInt.asUintN(64, (x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n);
      x = BigInt.asUintN(64, (x ^ (x >> 27n)) * 0x94d049bb133111ebn);
      return x ^ (x >> 31n);
    };
    const s0 = next(), s1 = next();
    this.st[0] = Number(s0 >> 32n);
    this.st[1] = Number(s0 & 0xffffffffn);
    this.st[2] = Number(s1 >> 32n);
    this.st[3] = Number(s1 & 0xffffffffn);
  }
  /** Uniform in [0, 1) with 53 bits: the top 53 bits of xorshift128+'s s0 + s1. */
  uniform(): number {
    // x = old s0, y = old s1; new s0 = y; x ^= x << 23; new s1 = x ^ y ^ (x >> 17) ^ (y >> 26)
    const st = this.st;
    let xa = st[0], xb = st[1];
    const ya = st[2], yb = st[3];
    st[0] = ya;
    st[1] = yb;
    xa ^= (xa << 23) | (xb >>> 9);
    xb ^= xb << 23;
    const na = (xa ^ ya ^ (xa >>> 17) ^ (ya >>> 26)) >>> 0;
    const nb = (xb ^ yb ^ ((xb >>> 17) | (xa << 15)) ^ ((yb >>> 26) | (ya << 6))) >>> 0;
    st[2] = na;
    st[3] = nb;
    const lo = nb + yb;  // below 2^33: the carry is lo >= 2^32
    const hi = (na + ya + (lo >= 4294967296 ? 1 : 0)) >>> 0;
    return (hi * 2097152 + ((lo >>> 0) >>> 11)) / 2 ** 53;
  }
  /** t (fp32, on the host) filled with truncNormal's draws, from and advancing this stream. */
  fillTruncNormal(t: Tensor, std: number, bound: number): void {
    const spare = native.initTruncNormal(t.handle, this.st, this.hasSpare ? this.spare : null, std, bound);
    this.hasSpare = spare !== null;
    if (spare !== null) this.spare = spare;
  }
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    this.hasSpare = true;
    return r * Math.cos(2 * Math.PI * v);
  }
}

/**
 * normal(0, std) draws, each redrawn while outside [-bound, bound]. The addon draws them
 * (native/cpu/init_rng.cc: rng.normal()'s stream, on every thread where nothing can be redrawn);
 * test/model/init.test.ts holds the JS loop they must equal.
 */
export function truncNormal(shape: number[], std: number, rng: InitRng, bound = 2): Tensor {
  const t = Tensor.empty(shape);
  if (!rng.skip) rng.fillTruncNormal(t, std, bound);
  return t;
}

/** PyTorch's default nn.Linear init: U(±1/√fan_in) for weight and bias (MOD-13's classifier head). */
export function uniformFanIn(shape: number[], fanIn: number, rng: InitRng): Tensor {
  if (rng.skip) return Tensor.empty(shape);
  const n = shape.reduce((a, b) => a * b, 1);
  const bound = 1 / Math.sqrt(fanIn);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (rng.uniform() * 2 - 1) * bound;
  return Tensor.from(data, shape);
}

export function zeros(shape: number[]): Tensor {
  return Tensor.zeros(shape);
}

export function ones(shape: number[]): Tensor {
  return Tensor.full(shape, 1);
}
