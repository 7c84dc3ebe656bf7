// native gemm / gemmGelu with bfloat16 A and B (native/cpu/gemm_bf16.cc): fp32 accumulation of
// the exact bf16 values, against a float64 reference on the bf16-rounded inputs, on 1 and 2
// threads; bit-identical to the fp32 GEMM fed the widened values; dtype errors named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native, type TensorHandle } from '../../lib/native.js';
import { bf16ToF32, f32ToBf16 } from '../../lib/io/host-tensor.js';
import { mulberry32 } from '../helpers/random.js';
import { Handles } from '../helpers/handles.js';

const handles = new Handles();
const tensor = (shape: number[], dtype: 'float32' | 'bfloat16', data?: Float32Array | Uint16Array): TensorHandle => handles.make(shape, dtype, data);
const read = (h: TensorHandle): Float32Array => handles.read(h);
const freeAll = (): void => handles.freeAll();

/** n random values already on the bf16 grid: [bits, exact fp32 values]. */
function randBf16(rng: () => number, n: number, scale = 1): [Uint16Array, Float32Array] {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = (rng() * 2 - 1) * scale;
  const bits = f32ToBf16(f);
  return [bits, bf16ToF32(bits)];
}

interface Case { batch: number; M: number; N: number; K: number; ta: boolean; tb: boolean; aBatched: boolean; bBatched: boolean; alpha: number; beta: number; bias: boolean }

function reference(c: Case, A: Float32Array, B: Float32Array, C0: Float32Array, bias: Float32Array | null): { out: Float64Array; mag: Float64Array } {
  const out = new Float64Array(c.batch * c.M * c.N), mag = new Float64Array(out.length);
  for (let b = 0; b < c.batch; b++) {
    const ao = c.aBatched ? b * c.M * c.K : 0, bo = c.bBatched ? b * c.K * c.N : 0;
    for (let m = 0; m < c.M; m++)
      for (let n = 0; n < c.N; n++) {
        let s = 0, s2 = 0;
        for (let k = 0; k < c.K; k++) {
          const p = (c.ta ? A[ao + k * c.M + m] : A[ao + m * c.K + k]) * (c.tb ? B[bo + n * c.K + k] : B[bo + k * c.N + n]);
          s += p;
          s2 += Math.abs(p);
        }
        const i = (b * c.M + m) * c.N + n;
        out[i] = c.alpha * s + (c.beta !== 0 ? c.beta * C0[i] : 0) + (bias ? bias[n] : 0);
        mag[i] = Math.abs(c.alpha) * s2 + Math.abs(c.beta * C0[i]) + (bias ? Math.abs(bias[n]) : 0);
      }
  }
  return { out, mag };
}

const cases: Case[] = [
  { batch: 1, M: 1, N: 1, K: 1, ta: false, tb: false, aBatched: false, bBatched: false, alpha: 1, beta: 0, bias: false },
  { batch: 1, M: 67, N: 45, K: 129, ta: false, tb: true, aBatched: false, bBatched: false, alpha: 1, beta: 0, bias: true },
  { batch: 1, M: 33, N: 70, K: 400, ta: true, tb: false, aBatched: false, bBatched: false, alpha: 1, beta: 1, bias: false },
  { batch: 1, M: 14, N: 31, K: 17, ta: true, tb: true, aBatched: false, bBatched: false, alpha: 0.75, beta: -0.5, bias: true },
  { batch: 3, M: 19, N: 23, K: 29, ta: false, tb: true, aBatched: true, bBatched: false, alpha: 1, beta: 0, bias: false },
  { batch: 4, M: 19, N: 23, K: 29, ta: true, tb: false, aBatched: false, bBatched: true, alpha: 2, beta: 0.5, bias: true },
  { batch: 2, M: 150, N: 130, K: 200, ta: false, tb: false, aBatched: true, bBatched: true, alpha: 1, beta: 0, bias: true },
];

test('gemm bf16: awkward shapes, transposes, alpha/beta/bias, broadcast batches vs float64', () => {
  const rng = mulberry32(99);
  const t0 = native.numThreads();
  try {
    for (const c of cases) {
      const aShape = c.ta ? [c.K, c.M] : [c.M, c.K], bShape = c.tb ? [c.N, c.K] : [c.K, c.N];
      const [Abits, A] = randBf16(rng, (c.aBatched ? c.batch : 1) * c.M * c.K);
      const [Bbits, B] = randBf16(rng, (c.bBatched ? c.batch : 1) * c.K * c.N);
      const C0 = new Float32Array(c.batch * c.M * c.N).map(() => rng() * 6 - 3);
      const bias = c.bias ? new Float32Array(c.N).map(() => rng() * 2 - 1) : null;
      const ref = reference(c, A, B, C0, bias);
      for (const th of [1, 2]) {
        native.setNumThreads(th);
        const C = tensor(c.batch > 1 ? [c.batch, c.M, c.N] : [c.M, c.N], 'float32', C0);
        native.gemm(
          tensor(c.aBatched ? [c.batch, ...aShape] : aShape, 'bfloat16', Abits),
          tensor(c.bBatched ? [c.batch, ...bShape] : bShape, 'bfloat16', Bbits),
          C, c.ta, c.tb, c.alpha, c.beta, bias ? tensor([c.N], 'float32', bias) : null,
        );
        const got = read(C), tol = 2e-6 * Math.sqrt(c.K + 1);
        for (let i = 0; i < got.length; i++)
          if (!(Math.abs(got[i] - ref.out[i]) <= tol * ref.mag[i] + 1e-30))
            assert.unreachable(`${JSON.stringify(c)} ${th}t: element ${i}: got ${got[i]}, want ${ref.out[i]}`);
        freeAll();
      }
    }
  } finally {
    native.setNumThreads(t0);
    freeAll();
  }
});

test('gemm / gemmGelu bf16 equal the fp32 GEMM on the widened values, bit for bit', () => {
  const rng = mulberry32(5);
  const [M, N, K] = [45, 96, 70];
  const [Ab, A] = randBf16(rng, M * K, 2);
  const [Bb, B] = randBf16(rng, N * K, 0.3);
  const bias = new Float32Array(N).map(() => rng() - 0.5);
  try {
    const c16 = tensor([M, N], 'float32'), c32 = tensor([M, N], 'float32');
    native.gemm(tensor([M, K], 'bfloat16', Ab), tensor([N, K], 'bfloat16', Bb), c16, false, true, 1, 0, tensor([N], 'float32', bias));
    native.gemm(tensor([M, K], 'float32', A), tensor([N, K], 'float32', B), c32, false, true, 1, 0, tensor([N], 'float32', bias));
    assert.equal(Array.from(read(c16)), Array.from(read(c32)), 'gemm');
    const y16 = tensor([M, N], 'float32'), p16 = tensor([M, N], 'float32');
    const y32 = tensor([M, N], 'float32'), p32 = tensor([M, N], 'float32');
    native.gemmGelu(tensor([M, K], 'bfloat16', Ab), tensor([N, K], 'bfloat16', Bb), y16, p16, true, tensor([N], 'float32', bias));
    native.gemmGelu(tensor([M, K], 'float32', A), tensor([N, K], 'float32', B), y32, p32, true, tensor([N], 'float32', bias));
    assert.equal(Array.from(read(p16)), Array.from(read(p32)), 'gemmGelu pre');
    assert.equal(Array.from(read(y16)), Array.from(read(y32)), 'gemmGelu out');
    // and the values really went through bf16: the unrounded fp32 inputs give another product
    const raw = new Float32Array(M * K).map((v, i) => A[i] + (i % 2 ? 1e-3 : -1e-3));
    const c33 = tensor([M, N], 'float32');
    native.gemm(tensor([M, K], 'float32', raw), tensor([N, K], 'float32', B), c33, false, true, 1, 0, null);
    assert.not.equal(Array.from(read(c33)), Array.from(read(c32)));
  } finally {
    freeAll();
  }
});

function message(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return 'did not throw';
}

test('gemm: mixed or wrong dtypes throw an Error naming the operands', () => {
  try {
    const a16 = tensor([3, 4], 'bfloat16'), c = tensor([3, 5], 'float32');
    assert.match(message(() => native.gemm(a16, tensor([4, 5], 'float32'), c, false, false, 1, 0, null)), /A and B must both be float32 or both bfloat16, got A bf16\[3,4\]/);
    assert.match(message(() => native.gemm(a16, tensor([4, 5], 'bfloat16'), tensor([3, 5], 'bfloat16'), false, false, 1, 0, null)), /C must be float32/);
    assert.match(message(() => native.gemmGelu(a16, tensor([5, 4], 'bfloat16'), c, tensor([3, 5], 'bfloat16'), true, null)), /pre must be float32/);
    assert.match(message(() => native.gemm(a16, tensor([5, 5], 'bfloat16'), c, false, false, 1, 0, null)), /shapes do not agree/);
  } finally {
    freeAll();
  }
});

test.run();
