// Shared helpers for the CPU kernel tests: tensor plumbing, a seeded RNG, closeness checks,
// the thread / instruction-set sweep, and float64 reference implementations of each op.
import * as assert from 'uvu/assert';
import { native, type TensorHandle as H } from '../../../lib/native.js';

export { native };
export type { H };

// ---------------------------------------------------------------- tensors

const live: H[] = [];
const track = (h: H): H => {
  live.push(h);
  return h;
};
/** Disposes every tensor made through these helpers (call at the end of a test). */
export function freeAll(): void {
  for (const h of live.splice(0)) if (!h.disposed) h.dispose();
}

export function f32(shape: number[], data?: ArrayLike<number>): H {
  const h = track(native.empty(shape, 'float32'));
  if (data) h.write(Float32Array.from(data));
  else native.fill(h, 0);
  return h;
}
export function i32(shape: number[], data: ArrayLike<number>): H {
  const h = track(native.empty(shape, 'int32'));
  h.write(Int32Array.from(data));
  return h;
}
export function bf16(shape: number[], data?: ArrayLike<number>): H {
  const h = track(native.zeros(shape, 'bfloat16'));
  if (data) h.write(Uint16Array.from(data));
  return h;
}
export function read(h: H): Float32Array {
  const n = h.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  h.read(out);
  return out;
}
export function readU16(h: H): Uint16Array {
  const n = h.shape.reduce((a, b) => a * b, 1);
  const out = new Uint16Array(n);
  h.read(out);
  return out;
}

// ---------------------------------------------------------------- random inputs

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  /** mulberry32, uniform in [0, 1) */
  u(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const a = Math.max(this.u(), 1e-300);
    return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * this.u());
  }
  int(n: number): number {
    return Math.floor(this.u() * n);
  }
  /** float32-representable normals, as a Float64Array (the exact values the kernel sees) */
  normals(n: number, scale = 1, shift = 0): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.fround(this.normal() * scale + shift);
    return out;
  }
  ints(n: number, hi: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(hi);
    return out;
  }
}

// ---------------------------------------------------------------- comparisons

export interface Tol {
  atol?: number;
  rtol?: number;
}
/** |got - want| <= atol + rtol * |want| everywhere; NaN only where want is NaN. */
export function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol, what: string): void {
  const atol = tol.atol ?? 0, rtol = tol.rtol ?? 0;
  assert.is(got.length, want.length, `${what}: length`);
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w) || Number.isNaN(g)) {
      if (Number.isNaN(w) !== Number.isNaN(g)) {
        worst = i;
        worstExcess = Infinity;
        break;
      }
      continue;
    }
    if (g === w) continue;
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      // An infinity matches only itself: the tolerance below would be NaN and let anything through.
      worst = i;
      worstExcess = Infinity;
      break;
    }
    const excess = Math.abs(g - w) - (atol + rtol * Math.abs(w));
    if (excess > worstExcess || (excess > 0 && worst < 0)) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0)
    assert.unreachable(
      `${what}: index ${worst}: got ${got[worst]}, want ${want[worst]} (|diff| ${Math.abs(got[worst] - want[worst]).toExponential(3)}, atol ${atol}, rtol ${rtol})`,
    );
}
export function closeNum(got: number, want: number, tol: Tol, what: string): void {
  close([got], [want], tol, what);
}

/** Asserts that fn throws a JS Error whose message matches every pattern. */
export function throwsMsg(fn: () => unknown, patterns: RegExp[], what: string): void {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof Error, `${what}: expected an Error to be thrown`);
  for (const p of patterns) assert.match((err as Error).message, p, `${what}: message "${(err as Error).message}" lacks ${p}`);
}

// ---------------------------------------------------------------- sweeps

export const THREADS = [1, 2];

export type Isa = 'portable' | 'avx2' | 'avx512' | 'avx512bf16';

/**
 * The instruction sets this CPU and build can run, portable first. 'avx512bf16' only with
 * bf16Dot: it adds the bf16 GEMM's dot product alone, every other kernel is avx512's.
 */
export function isas(opts: { bf16Dot?: boolean } = {}): Isa[] {
  const order: Isa[] = ['portable', 'avx2', 'avx512', 'avx512bf16'];
  const all = order.slice(0, order.indexOf(native.isa().best as Isa) + 1);
  return opts.bf16Dot ? all : all.filter((i) => i !== 'avx512bf16');
}

/** Runs fn at 1 and 2 threads (and, with isa, under every instruction set), then restores. */
export function sweep(fn: (label: string) => void, opts: { isa?: boolean } = {}): void {
  const threads0 = native.numThreads();
  const isaList = opts.isa ? isas() : [null];
  try {
    for (const is of isaList) {
      if (is) native.setIsa(is);
      for (const t of THREADS) {
        native.setNumThreads(t);
        fn(`${is ? `${is}, ` : ''}${t} thread${t > 1 ? 's' : ''}`);
      }
    }
  } finally {
    native.setIsa('auto');
    native.setNumThreads(threads0);
  }
}

// ---------------------------------------------------------------- finite differences

/** Central differences of a scalar float64 function f at x (copied), step h. */
export function numGrad(f: (x: Float64Array) => number, x: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  const xx = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    const x0 = xx[i];
    xx[i] = x0 + h;
    const fp = f(xx);
    xx[i] = x0 - h;
    const fm = f(xx);
    xx[i] = x0;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}
export const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

// ---------------------------------------------------------------- reference ops (float64)

type A = ArrayLike<number>;

export function layernormFwd(x: A, w: A | null, b: A | null, rows: number, cols: number, eps: number) {
  const y = new Float64Array(rows * cols), mean = new Float64Array(rows), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += x[r * cols + c];
    const mu = s / cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[r * cols + c] - mu) ** 2;
    const rs = 1 / Math.sqrt(v / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let c = 0; c < cols; c++) y[r * cols + c] = (x[r * cols + c] - mu) * rs * (w ? w[c] : 1) + (b ? b[c] : 0);
  }
  return { y, mean, rstd };
}

export function layernormBwd(dy: A, x: A, w: A | null, rows: number, cols: number, eps: number) {
  const { mean, rstd } = layernormFwd(x, null, null, rows, cols, eps);
  const dx = new Float64Array(rows * cols), dw = new Float64Array(cols), db = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let sg = 0, sgx = 0;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c, xh = (x[i] - mean[r]) * rstd[r], g = dy[i] * (w ? w[c] : 1);
      sg += g;
      sgx += g * xh;
      dw[c] += dy[i] * xh;
      db[c] += dy[i];
    }
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c, xh = (x[i] - mean[r]) * rstd[r], g = dy[i] * (w ? w[c] : 1);
      dx[i] = rstd[r] * (g - sg / cols - (xh * sgx) / cols);
    }
  }
  return { dx, dw, db };
}

/** erf in float64: Taylor series (positive terms) below 2.5, continued fraction for erfc above. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) return 1 - erf(x);
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated backwards.
  let f = x;
  for (let k = 200; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return -erf(-x);
  if (x >= 2.5) return 1 - erfc(x);
  // erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))
  let term = x, sum = x;
  for (let n = 0; n < 200; n++) {
    term *= (2 * x * x) / (2 * n + 3);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return ((2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum);
}
/** Standard normal CDF, accurate in both tails. */
export const Phi = (x: number): number => 0.5 * erfc(-x / Math.SQRT2);
export const geluFwd = (x: number): number => x * Phi(x);
export const geluGrad = (x: number): number => Phi(x) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);

/** Conv3d with kernel == stride == (t, p, p) by definition: out [B, N, D] in token order (d, h, w). */
export function conv3dTubelets(x: A, wt: A, bias: A, B: number, C: number, T: number, H: number, W: number, t: number, p: number, D: number) {
  const Tp = Math.floor(T / t), Hp = Math.floor(H / p), Wp = Math.floor(W / p), N = Tp * Hp * Wp;
  const out = new Float64Array(B * N * D);
  for (let b = 0; b < B; b++)
    for (let d = 0; d < Tp; d++)
      for (let h = 0; h < Hp; h++)
        for (let w = 0; w < Wp; w++) {
          const n = d * Hp * Wp + h * Wp + w;
          for (let o = 0; o < D; o++) {
            let s = bias[o];
            for (let c = 0; c < C; c++)
              for (let dt = 0; dt < t; dt++)
                for (let dy = 0; dy < p; dy++)
                  for (let dx = 0; dx < p; dx++)
                    s +=
                      wt[(((o * C + c) * t + dt) * p + dy) * p + dx] *
                      x[(((b * C + c) * T + d * t + dt) * H + h * p + dy) * W + w * p + dx];
            out[(b * N + n) * D + o] = s;
          }
        }
  return { out, N, Tp, Hp, Wp };
}

export function lossFwd(p: A, t: A, e: number): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += Math.abs(p[i] - t[i]) ** e;
  return s / p.length / e;
}
export function lossBwd(p: A, t: A, e: number, g: number): Float64Array {
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const d = p[i] - t[i];
    out[i] = d === 0 ? 0 : ((Math.sign(d) * Math.abs(d) ** (e - 1)) * g) / p.length;
  }
  return out;
}

export function tokenStdFwd(x: A, B: number, K: number, D: number, eps: number): Float64Array {
  const out = new Float64Array(B * D);
  for (let b = 0; b < B; b++)
    for (let d = 0; d < D; d++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[(b * K + k) * D + d];
      const mu = s / K;
      let v = 0;
      for (let k = 0; k < K; k++) v += (x[(b * K + k) * D + d] - mu) ** 2;
      out[b * D + d] = Math.sqrt(v / (K - 1) + eps);
    }
  return out;
}
/** d/dx of sum(gstd * std(x)) */
export function tokenStdBwd(x: A, gstd: A, B: number, K: number, D: number, eps: number): Float64Array {
  const std = tokenStdFwd(x, B, K, D, eps);
  const dx = new Float64Array(B * K * D);
  for (let b = 0; b < B; b++)
    for (let d = 0; d < D; d++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[(b * K + k) * D + d];
      const mu = s / K;
      for (let k = 0; k < K; k++)
        dx[(b * K + k) * D + d] = (gstd[b * D + d] * (x[(b * K + k) * D + d] - mu)) / ((K - 1) * std[b * D + d]);
    }
  return dx;
}

export function softmax(x: A, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let c = 0; c < cols; c++) mx = Math.max(mx, x[r * cols + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c] - mx);
    for (let c = 0; c < cols; c++) y[r * cols + c] = Math.exp(x[r * cols + c] - mx) / s;
  }
  return y;
}
export function crossEntropy(x: A, labels: A, rows: number, cols: number, g: number) {
  const sm = softmax(x, rows, cols);
  let loss = 0;
  const dlogits = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    loss -= Math.log(sm[r * cols + labels[r]]);
    for (let c = 0; c < cols; c++) dlogits[r * cols + c] = (g * (sm[r * cols + c] - (c === labels[r] ? 1 : 0))) / rows;
  }
  return { loss: loss / rows, dlogits };
}

/** torch.optim.AdamW single-tensor step (foreach=False, amsgrad=False, maximize=False), in place. */
export function adamwStep(p: Float64Array, g: A, m: Float64Array, v: Float64Array, lr: number, b1: number, b2: number, eps: number, wd: number, step: number): void {
  const bc1 = 1 - b1 ** step, bc2 = 1 - b2 ** step;
  const stepSize = lr / bc1, bc2s = Math.sqrt(bc2);
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * wd; // decoupled decay first
    m[i] += (g[i] - m[i]) * (1 - b1); // exp_avg.lerp_(grad, 1 - beta1)
    v[i] = v[i] * b2 + (1 - b2) * g[i] * g[i];
    const denom = Math.sqrt(v[i]) / bc2s + eps;
    p[i] -= (stepSize * m[i]) / denom;
  }
}

/** MOD-06 1D table row for integer position pos at width dim. */
export function sincos1d(dim: number, pos: number): number[] {
  const M = dim / 2, row = new Array<number>(dim);
  for (let k = 0; k < M; k++) {
    const om = 1 / 10000 ** (k / M);
    row[k] = Math.sin(pos * om);
    row[M + k] = Math.cos(pos * om);
  }
  return row;
}
/** MOD-06 3D table [T*Hp*Wp, D]: [t | h | w] then truncated to D (zero-padded if shorter). */
export function sincos3d(T: number, Hp: number, Wp: number, D: number, uniformPower: boolean): Float64Array {
  const [dt, dh, dw] = uniformPower ? [1, 1, 1].map(() => 2 * Math.ceil(D / 6)) : [Math.floor(D / 2), Math.floor(D / 4), Math.floor(D / 4)];
  const out = new Float64Array(T * Hp * Wp * D);
  for (let d = 0; d < T; d++)
    for (let h = 0; h < Hp; h++)
      for (let w = 0; w < Wp; w++) {
        const row = [...sincos1d(dt, d), ...sincos1d(dh, h), ...sincos1d(dw, w)];
        const o = ((d * Hp + h) * Wp + w) * D;
        for (let c = 0; c < D; c++) out[o + c] = c < row.length ? row[c] : 0;
      }
  return out;
}
export function sincos2d(Hp: number, Wp: number, D: number): Float64Array {
  const out = new Float64Array(Hp * Wp * D);
  for (let h = 0; h < Hp; h++)
    for (let w = 0; w < Wp; w++) {
      const row = [...sincos1d(D / 2, h), ...sincos1d(D / 2, w)];
      out.set(row, (h * Wp + w) * D);
    }
  return out;
}

/** f32 -> bf16 by value: the nearer of the two neighbouring bf16 values, ties to even. */
export function bf16Round(x: number): number {
  const f = new Float32Array([x]), u = new Uint32Array(f.buffer)[0];
  const sign = u & 0x80000000 ? 0x8000 : 0;
  const mag = u & 0x7fffffff;
  if (mag > 0x7f800000) return NaN; // the caller checks NaN-ness, not payload
  if (mag === 0x7f800000) return sign | 0x7f80;
  const lo = mag >>> 16, hi = lo + 1;
  const val = (bits: number) => (bits >= 0x7f80 ? 2 ** 128 : bf16ToNumber(bits));
  const ax = Math.abs(f[0]), dl = ax - val(lo), dh = val(hi) - ax;
  const pick = dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi;
  return sign | pick;
}
export function bf16ToNumber(bits: number): number {
  const u = new Uint32Array([(bits & 0xffff) << 16]);
  return new Float32Array(u.buffer)[0];
}
