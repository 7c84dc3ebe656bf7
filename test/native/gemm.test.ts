// native gemm / gemmGelu (native/cpu/gemm*.cc) against a float64 reference, on every ISA path this
// CPU has (portable, avx2, avx512) and on 1 and 2 threads. Shapes are chosen to hit the packing
// edges: M, N below / not multiples of the micro-tile (14x32, 6x16, 6x8), K not a multiple of 16
// and above the K block (384), N past the packed-B chunk cap, batches with broadcast operands.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native, type TensorHandle } from '../../lib/native.js';
import { isas } from './kernels/reference.js';
import { mulberry32 } from '../helpers/random.js';
import { Handles } from '../helpers/handles.js';

function randArray(rng: () => number, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng() * 2 - 1) * scale;
  return a;
}

const handles = new Handles();
const f32 = (shape: number[], data?: Float32Array): TensorHandle => handles.make(shape, 'float32', data);
const read = (h: TensorHandle): Float32Array => handles.read(h);
const freeAll = (): void => handles.freeAll();

// erf / erfc in float64: Maclaurin series below 2.5, Lentz continued fraction above (~1e-14).
function erfSeries(x: number): number {
  let term = x, sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
// erfc(x) for x >= 0
function erfc(x: number): number {
  if (x < 2.5) return 1 - erfSeries(x);
  // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (x + f);
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / (x + f);
}
// exact GELU; the negative side uses erfc so the tail keeps its relative accuracy.
const gelu = (v: number): number => {
  const z = v / Math.SQRT2;
  return z >= 0 ? 0.5 * v * (1 + (z < 2.5 ? erfSeries(z) : 1 - erfc(z))) : 0.5 * v * erfc(-z);
};

interface Case {
  batch: number; M: number; N: number; K: number;
  ta: boolean; tb: boolean;
  aBatched: boolean; bBatched: boolean;
  alpha: number; beta: number; bias: boolean;
}

interface Ref { out: Float64Array; mag: Float64Array }

// C = alpha op(A) op(B) + beta C0 + bias; mag = the same with absolute values (the error scale).
function reference(c: Case, A: Float32Array, B: Float32Array, C0: Float32Array, bias: Float32Array | null): Ref {
  const { batch, M, N, K } = c;
  const out = new Float64Array(batch * M * N), mag = new Float64Array(batch * M * N);
  for (let b = 0; b < batch; b++) {
    const ao = c.aBatched ? b * M * K : 0, bo = c.bBatched ? b * K * N : 0;
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0, s2 = 0;
        for (let k = 0; k < K; k++) {
          const a = c.ta ? A[ao + k * M + m] : A[ao + m * K + k];
          const bb = c.tb ? B[bo + n * K + k] : B[bo + k * N + n];
          s += a * bb;
          s2 += Math.abs(a * bb);
        }
        const i = (b * M + m) * N + n;
        let v = c.alpha * s, w = Math.abs(c.alpha) * s2;
        if (c.beta !== 0) { v += c.beta * C0[i]; w += Math.abs(c.beta * C0[i]); }
        if (bias) { v += bias[n]; w += Math.abs(bias[n]); }
        out[i] = v;
        mag[i] = w;
      }
  }
  return { out, mag };
}

function checkClose(got: Float32Array, ref: Ref, K: number, what: string): void {
  const tol = 2e-6 * Math.sqrt(K + 1);
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - ref.out[i]);
    if (!(err <= tol * ref.mag[i] + 1e-30)) {
      assert.unreachable(`${what}: element ${i}: got ${got[i]}, want ${ref.out[i]} (|err| ${err.toExponential(2)} > ${(tol * ref.mag[i]).toExponential(2)})`);
    }
  }
}

const ISAS = isas();
const THREADS = [1, 2];

// Runs fn under every (isa, threads) configuration, restoring the defaults afterwards.
function sweep(fn: (label: string) => void): void {
  const t0 = native.numThreads();
  try {
    for (const isa of ISAS)
      for (const th of THREADS) {
        native.setIsa(isa);
        native.setNumThreads(th);
        fn(`${isa}/${th}t`);
      }
  } finally {
    native.setIsa('auto');
    native.setNumThreads(t0);
    freeAll();
  }
}

function makeCases(): Case[] {
  const rng = mulberry32(20240601);
  const base = (M: number, N: number, K: number, extra: Partial<Case> = {}): Case => ({
    batch: 1, M, N, K, ta: false, tb: false, aBatched: false, bBatched: false, alpha: 1, beta: 0, bias: false, ...extra,
  });
  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 33, 17], [15, 1, 3], [14, 32, 16], [13, 31, 15], [29, 65, 17], [7, 9, 1], [2, 47, 31],
    [100, 97, 385], [40, 100, 800], [200, 96, 192], [57, 130, 64],
  ];
  const cases: Case[] = [];
  shapes.forEach(([M, N, K], i) => {
    const tr = i % 4;
    cases.push(base(M, N, K, { ta: (tr & 1) === 1, tb: (tr & 2) === 2 }));
  });
  // all four transpose combos with alpha / beta / bias on two awkward shapes
  for (const [M, N, K] of [[31, 45, 53], [17, 70, 400]] as [number, number, number][])
    for (let tr = 0; tr < 4; tr++)
      cases.push(base(M, N, K, { ta: (tr & 1) === 1, tb: (tr & 2) === 2, alpha: 0.75, beta: tr === 3 ? 1 : -0.5, bias: tr !== 1 }));
  // random small shapes
  for (let i = 0; i < 10; i++) {
    const d = () => 1 + Math.floor(rng() * rng() * 90);
    cases.push(base(d(), d(), d(), { ta: rng() < 0.5, tb: rng() < 0.5, alpha: rng() < 0.5 ? 1 : 1.5, beta: rng() < 0.5 ? 0 : 0.5, bias: rng() < 0.5 }));
  }
  // batched, broadcast A or B; one big enough to run each matrix on all threads
  cases.push(base(19, 23, 29, { batch: 3, aBatched: false, bBatched: true, tb: true, bias: true }));
  cases.push(base(19, 23, 29, { batch: 4, aBatched: true, bBatched: false, ta: true, beta: 1 }));
  cases.push(base(33, 40, 21, { batch: 2, aBatched: true, bBatched: true, ta: true, tb: true, alpha: 2 }));
  cases.push(base(150, 130, 200, { batch: 2, aBatched: true, bBatched: false, beta: 0.25, bias: true }));
  // N past the packed-B chunk (4M floats / K columns): 3 x 4200 x 1000
  cases.push(base(3, 4200, 1000, { tb: true, beta: 0.5 }));
  return cases;
}

function caseLabel(c: Case): string {
  return `${c.batch}x${c.M}x${c.N}x${c.K} ta=${c.ta} tb=${c.tb} Ab=${c.aBatched} Bb=${c.bBatched} a=${c.alpha} b=${c.beta} bias=${c.bias}`;
}

test('gemm: 2x2 exact values (C = 2 A B + 0.5 C + bias)', () => {
  sweep((label) => {
    const A = f32([2, 2], Float32Array.from([1, 2, 3, 4]));
    const B = f32([2, 2], Float32Array.from([5, 6, 7, 8]));
    const C = f32([2, 2], Float32Array.from([1, 1, 1, 1]));
    native.gemm(A, B, C, false, false, 2, 0.5, f32([2], Float32Array.from([10, 20])));
    assert.equal(Array.from(read(C)), [2 * 19 + 0.5 + 10, 2 * 22 + 0.5 + 20, 2 * 43 + 0.5 + 10, 2 * 50 + 0.5 + 20], label);
  });
});

test('gemm: awkward shapes, transposes, alpha/beta/bias, batches vs float64', () => {
  const rng = mulberry32(7);
  for (const c of makeCases()) {
    const aShape = c.ta ? [c.K, c.M] : [c.M, c.K], bShape = c.tb ? [c.N, c.K] : [c.K, c.N];
    const A = randArray(rng, (c.aBatched ? c.batch : 1) * c.M * c.K);
    const B = randArray(rng, (c.bBatched ? c.batch : 1) * c.K * c.N);
    const C0 = randArray(rng, c.batch * c.M * c.N, 3);
    const bias = c.bias ? randArray(rng, c.N) : null;
    const ref = reference(c, A, B, C0, bias);
    sweep((label) => {
      const Ah = f32(c.aBatched ? [c.batch, ...aShape] : aShape, A);
      const Bh = f32(c.bBatched ? [c.batch, ...bShape] : bShape, B);
      const Ch = f32(c.batch > 1 ? [c.batch, c.M, c.N] : [c.M, c.N], C0);
      native.gemm(Ah, Bh, Ch, c.ta, c.tb, c.alpha, c.beta, bias ? f32([c.N], bias) : null);
      checkClose(read(Ch), ref, c.K, `${label} ${caseLabel(c)}`);
      freeAll();
    });
  }
});

test('gemm: beta = 0 ignores NaN / Inf already in C', () => {
  const rng = mulberry32(3);
  for (const [M, N, K] of [[5, 7, 9], [30, 70, 40]]) {
    const A = randArray(rng, M * K), B = randArray(rng, K * N);
    const C0 = new Float32Array(M * N).map((_, i) => (i % 3 === 0 ? NaN : i % 3 === 1 ? Infinity : -Infinity));
    const c: Case = { batch: 1, M, N, K, ta: false, tb: false, aBatched: false, bBatched: false, alpha: 1, beta: 0, bias: false };
    const ref = reference(c, A, B, new Float32Array(M * N), null);
    sweep((label) => {
      const Ch = f32([M, N], C0);
      native.gemm(f32([M, K], A), f32([K, N], B), Ch, false, false, 1, 0, null);
      const got = read(Ch);
      assert.ok(got.every(Number.isFinite), `${label}: NaN/Inf leaked from C`);
      checkClose(got, ref, K, `${label} ${M}x${N}x${K}`);
      freeAll();
    });
  }
});

test('gemmGelu: pre = A op(B) + bias, C = exact-erf gelu(pre)', () => {
  const rng = mulberry32(11);
  for (const [M, N, K, tb, hasBias] of [[37, 70, 45, false, true], [20, 33, 400, true, true], [3, 5, 7, true, false], [64, 96, 96, false, false]] as [number, number, number, boolean, boolean][]) {
    // wide inputs so the GELU sees both tails (|pre| up to ~8)
    const A = randArray(rng, M * K, 2), B = randArray(rng, K * N, 6 / Math.sqrt(K));
    const bias = hasBias ? randArray(rng, N, 2) : null;
    const c: Case = { batch: 1, M, N, K, ta: false, tb, aBatched: false, bBatched: false, alpha: 1, beta: 0, bias: hasBias };
    const ref = reference(c, A, B, new Float32Array(M * N), bias);
    sweep((label) => {
      const Ch = f32([M, N], new Float32Array(M * N).fill(NaN)), Ph = f32([M, N]);
      native.gemmGelu(f32([M, K], A), f32(tb ? [N, K] : [K, N], B), Ch, Ph, tb, bias ? f32([N], bias) : null);
      const pre = read(Ph), out = read(Ch);
      checkClose(pre, ref, K, `${label} pre ${M}x${N}x${K}`);
      const tol = 2e-6 * Math.sqrt(K + 1);
      for (let i = 0; i < out.length; i++) {
        // gelu' is within [-0.13, 1.13]: the pre-activation error carries over; the erf adds ~1e-7 relative.
        const want = gelu(ref.out[i]);
        const err = Math.abs(out[i] - want);
        if (!(err <= 1.2 * tol * ref.mag[i] + 3e-7 * Math.abs(want) + 1e-30))
          assert.unreachable(`${label} gelu ${M}x${N}x${K}: element ${i} (pre ${ref.out[i]}): got ${out[i]}, want ${want}`);
      }
      // and against the float32 pre it returned, on its own: the epilogue's erf vs float64
      for (let i = 0; i < out.length; i++) {
        const want = gelu(pre[i]);
        if (!(Math.abs(out[i] - want) <= 5e-7 * Math.abs(want) + 1e-37))
          assert.unreachable(`${label} gelu(pre) element ${i}: gelu(${pre[i]}) = ${want}, got ${out[i]}`);
      }
      freeAll();
    });
  }
});

test('gemmGelu without pre (inference) writes the same C and nothing else', () => {
  const rng = mulberry32(12);
  const [M, N, K] = [29, 67, 40];
  const A = randArray(rng, M * K, 2), B = randArray(rng, N * K, 0.5), bias = randArray(rng, N, 1);
  sweep((label) => {
    const withPre = f32([M, N]), pre = f32([M, N]), noPre = f32([M, N], new Float32Array(M * N).fill(NaN));
    native.gemmGelu(f32([M, K], A), f32([N, K], B), withPre, pre, true, f32([N], bias));
    native.gemmGelu(f32([M, K], A), f32([N, K], B), noPre, null, true, f32([N], bias));
    assert.equal(Array.from(read(noPre)), Array.from(read(withPre)), `${label}: C differs without pre`);
    freeAll();
  });
});

test('gemmGelu: the GELU epilogue over a dense grid of pre-activations in [-14, 14] (both tails)', () => {
  const n = 40000;
  const x = new Float32Array(n).map((_, i) => -14 + (28 * i) / n);
  sweep((label) => {
    const C = f32([n, 1]), P = f32([n, 1]);
    native.gemmGelu(f32([n, 1], x), f32([1, 1], Float32Array.from([1])), C, P, false, null);
    const out = read(C);
    assert.equal(Array.from(read(P)), Array.from(x), `${label}: pre`);
    let worst = 0, at = 0;
    for (let i = 0; i < n; i++) {
      const want = gelu(x[i]);
      if (Math.abs(want) < 1e-36) continue; // float denormals
      const rel = Math.abs(out[i] - want) / Math.abs(want);
      if (rel > worst) (worst = rel), (at = x[i]);
    }
    // ~4 float ulps: erf itself is within ~2e-7, the products 0.5*v*(1+erf) add two roundings.
    assert.ok(worst < 5e-7, `${label}: max relative error ${worst.toExponential(2)} at ${at}`);
  });
});

test('gemm: K = 0 and alpha = 0 leave C = beta C + bias without reading A, B', () => {
  sweep((label) => {
    const C = f32([3, 2], Float32Array.from([1, 2, 3, 4, 5, 6]));
    native.gemm(f32([3, 0]), f32([0, 2]), C, false, false, 1, 0.5, f32([2], Float32Array.from([10, 20])));
    assert.equal(Array.from(read(C)), [10.5, 21, 11.5, 22, 12.5, 23], `${label} K=0`);
    const D = f32([2, 2], Float32Array.from([1, 2, 3, 4]));
    native.gemm(f32([2, 3], new Float32Array(6).fill(NaN)), f32([3, 2]), D, false, false, 0, 2, null);
    assert.equal(Array.from(read(D)), [2, 4, 6, 8], `${label} alpha=0`);
  });
});

// A transformer block's x + proj(...): C = op(A) op(B) + bias + R in one call (C's old contents
// ignored; R may be C itself), against the float64 reference with R as a beta-1 C0.
test('gemm: residual (C = A op(B) + bias + R), R apart from C or C itself, vs float64', () => {
  const rng = mulberry32(11);
  for (const [M, N, K, tb, withBias] of [[1, 1, 1, false, false], [29, 65, 17, true, true], [100, 97, 385, true, true], [13, 31, 15, false, true]] as [number, number, number, boolean, boolean][]) {
    const A = randArray(rng, M * K), B = randArray(rng, K * N), R = randArray(rng, M * N, 3);
    const bias = withBias ? randArray(rng, N) : null;
    const c: Case = { batch: 1, M, N, K, ta: false, tb, aBatched: false, bBatched: false, alpha: 1, beta: 1, bias: withBias };
    const ref = reference(c, A, B, R, bias);
    sweep((label) => {
      const Ah = f32([M, K], A), Bh = f32(tb ? [N, K] : [K, N], B), bh = bias ? f32([N], bias) : null;
      const Ch = f32([M, N], new Float32Array(M * N).fill(NaN)), Rh = f32([M, N], R);
      native.gemm(Ah, Bh, Ch, false, tb, 1, 0, bh, Rh);
      checkClose(read(Ch), ref, K, `${label} ${M}x${N}x${K} residual apart`);
      assert.equal(Array.from(read(Rh)), Array.from(R), `${label}: the residual is left as it was`);
      native.gemm(Ah, Bh, Rh, false, tb, 1, 0, bh, Rh);  // in place: R is C
      checkClose(read(Rh), ref, K, `${label} ${M}x${N}x${K} residual in place`);
      freeAll();
    });
  }
});

test('gemm: a residual with a bf16 C, another shape, or beta != 0 is refused, naming it', () => {
  try {
    const A = f32([3, 4]), B = f32([4, 6]), C = f32([3, 6]);
    assert.throws(() => native.gemm(A, B, C, false, false, 1, 0, null, f32([3, 5])), (e: Error) => /residual/.test(e.message) && /\[3,5\]/.test(e.message));
    assert.throws(() => native.gemm(A, B, C, false, false, 1, 1, null, f32([3, 6])), (e: Error) => /beta must be 0 with a residual/.test(e.message));
    assert.throws(() => native.gemm(A, B, handles.make([3, 6], 'bfloat16'), false, false, 1, 0, null, f32([3, 6])), (e: Error) => /residual needs float32 C/.test(e.message));
  } finally {
    freeAll();
  }
});

test('gemm: mismatched shapes throw an Error naming the shapes', () => {
  try {
    const A = f32([3, 4]), B = f32([5, 6]), C = f32([3, 6]);
    assert.throws(() => native.gemm(A, B, C, false, false, 1, 0, null), (e: Error) => e instanceof Error && /\[3,4\]/.test(e.message) && /\[5,6\]/.test(e.message));
    assert.throws(() => native.gemm(f32([3, 4]), f32([4, 6]), f32([3, 7]), false, false, 1, 0, null), (e: Error) => /\[3,7\]/.test(e.message));
    assert.throws(() => native.gemm(f32([2, 3, 4]), f32([3, 4, 6]), f32([2, 3, 6]), false, false, 1, 0, null), (e: Error) => /batch/.test(e.message));
    assert.throws(() => native.gemm(f32([3, 4]), f32([4, 6]), f32([3, 6]), false, false, 1, 0, f32([5])), (e: Error) => /bias/.test(e.message));
  } finally {
    freeAll();
  }
});

test('setIsa: unknown or unsupported instruction sets are refused', () => {
  assert.throws(() => native.setIsa('sse9' as 'auto'), /unknown instruction set/);
  const best = native.isa().best;
  if (best !== 'avx512' && best !== 'avx512bf16') assert.throws(() => native.setIsa('avx512'), /does not support/);
  if (best !== 'avx512bf16') assert.throws(() => native.setIsa('avx512bf16'), /does not support/);
  native.setIsa('auto');
  assert.is(native.isa().active, native.isa().best);
});

test.run();
