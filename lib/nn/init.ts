// Initialisers (MOD-05). trunc-normal(σ) truncates at the absolute bounds ±2, as the
// original's helper does, which at σ = 0.02 is a plain normal in practice.
import { Tensor } from '../tensor.js';

/** A small seeded generator for weights (splitmix64-seeded xorshift128+, Box-Muller normals). */
export class InitRng {
  private s0: bigint;
  private s1: bigint;
  private spare: number | null = null;
  constructor(seed: number) {
    let z = BigInt.asUintN(64, BigInt(seed) + 0x9e3779b97f4a7c15n);
    const next = () => {
      z = BigInt.asUintN(64, z + 0x9e3779b97f4a7c15n);
      let x = z;
      x = BigInt.asUintN(64, (x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n);
      x = BigInt.asUintN(64, (x ^ (x >> 27n)) * 0x94d049bb133111ebn);
      return x ^ (x >> 31n);
    };
    this.s0 = next();
    this.s1 = next();
  }
  /** Uniform in [0, 1) with 53 bits. */
  uniform(): number {
    let s1 = this.s0;
    const s0 = this.s1;
    this.s0 = s0;
    s1 = BigInt.asUintN(64, s1 ^ (s1 << 23n));
    this.s1 = s1 ^ s0 ^ (s1 >> 17n) ^ (s0 >> 26n);
    return Number(BigInt.asUintN(64, this.s1 + s0) >> 11n) / 2 ** 53;
  }
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

export function truncNormal(shape: number[], std: number, rng: InitRng, bound = 2): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = rng.normal() * std;
    while (v < -bound || v > bound);
    data[i] = v;
  }
  return Tensor.from(data, shape);
}

/** PyTorch's default nn.Linear init: U(±1/√fan_in) for weight and bias (MOD-13's classifier head). */
export function uniformFanIn(shape: number[], fanIn: number, rng: InitRng): Tensor {
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
