// native gemm / gemmGelu with bfloat16 A and B: fp32 accumulation of the exact bf16 values,
// against a float64 reference on the bf16-rounded inputs, on 1 and 2 threads and every
// instruction set the CPU has; below 'avx512bf16' (native/cpu/gemm_bf16.cc) bit-identical to the
// fp32 GEMM fed the widened values, on it (native/cpu/gemm_avx512bf16.cc, vdpbf16ps) within fp32
// rounding of them, with the instruction's zeroed subnormals; bf16 outputs rounded once by the
// epilogue, with autocast's bf16 bias and GELU input; geluBwd from a bf16 pre-activation; dtype
// errors named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native, type DType, type TensorHandle } from '../../lib/native.js';
import { bf16ToF32, f32ToBf16 } from '../../lib/io/host-tensor.js';
import { mulberry32 } from '../helpers/random.js';
import { Handles } from '../helpers/handles.js';
import { isas, type Isa } from './kernels/reference.js';

const handles = new Handles();

const ISAS = isas({ bf16Dot: true });
const HAS_DP = ISAS.includes('avx512bf16');

/** fn under each of the given instruction sets, restoring the default after. */
function underIsas(isas: Isa[], fn: (isa: Isa) => void): void {
  try {
    for (const isa of isas) {
      native.setIsa(isa);
      fn(isa);
    }
  } finally {
    native.setIsa('auto');
  }
}
const tensor = (shape: number[], dtype: DType, data?: Float32Array | Uint16Array): TensorHandle => handles.make(shape, dtype, data);
const read = (h: TensorHandle): Float32Array => handles.read(h);
const bits = (h: TensorHandle): Uint16Array => handles.bits(h);
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
  // K over the bf16 kernel's 1536-value blocks, in blocks of odd length (pairs with a zero partner)
  { batch: 1, M: 29, N: 47, K: 1537, ta: false, tb: true, aBatched: false, bBatched: false, alpha: 1, beta: 0, bias: false },
  { batch: 1, M: 16, N: 33, K: 1539, ta: true, tb: false, aBatched: false, bBatched: false, alpha: 1, beta: 1, bias: true },
  { batch: 1, M: 15, N: 17, K: 3, ta: true, tb: true, aBatched: false, bBatched: false, alpha: 1, beta: 0, bias: false },
];

test('gemm bf16: awkward shapes, transposes, alpha/beta/bias, broadcast batches vs float64, every ISA', () => {
  const t0 = native.numThreads();
  try {
    underIsas(ISAS, (isa) => {
    const rng = mulberry32(99);
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
            assert.unreachable(`${JSON.stringify(c)} ${isa} ${th}t: element ${i}: got ${got[i]}, want ${ref.out[i]}`);
        freeAll();
      }
    }
    });
  } finally {
    native.setNumThreads(t0);
    freeAll();
  }
});

test('gemm / gemmGelu bf16 equal the fp32 GEMM on the widened values, bit for bit, below avx512bf16', () => {
  underIsas(ISAS.filter((i) => i !== 'avx512bf16'), (isa) => {
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
    assert.not.equal(Array.from(read(c33)), Array.from(read(c32)), isa);
  } finally {
    freeAll();
  }
  });
});

test('avx512bf16 (vdpbf16ps): within fp32 rounding of the widened path at every transpose and tail, subnormal inputs read as zero', () => {
  if (!HAS_DP) {
    console.log('  (no AVX512-BF16 on this CPU: the widened path above is the bf16 GEMM here)');
    return;
  }
  const rng = mulberry32(41);
  const t0 = native.numThreads();
  try {
    for (const [M, N, K] of [[1, 1, 1], [14, 32, 2], [13, 31, 767], [29, 65, 769], [200, 97, 1600]])
      for (const ta of [false, true])
        for (const tb of [false, true])
          for (const th of [1, 2]) {
            native.setNumThreads(th);
            const [Ab] = randBf16(rng, M * K, 2), [Bb] = randBf16(rng, K * N, 0.5);
            const run = (isa: Isa): Float32Array => {
              native.setIsa(isa);
              const C = tensor([M, N], 'float32');
              native.gemm(tensor(ta ? [K, M] : [M, K], 'bfloat16', Ab), tensor(tb ? [N, K] : [K, N], 'bfloat16', Bb), C, ta, tb, 1, 0, null);
              return read(C);
            };
            const want = run('avx512'), got = run('avx512bf16');
            // |Σ a b| <= K * 2 * 0.5 bounds each sum: its fp32 rounding error stays below K ulp of that
            const tol = K * 1.0 * 2 ** -23 * 2;
            let diff = 0;
            for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(got[i] - want[i]));
            assert.ok(diff <= tol, `${M}x${N}x${K} ta=${ta} tb=${tb} ${th}t: max |diff| ${diff} > ${tol}`);
            freeAll();
          }
    // a subnormal bf16 (2^-133) times 2^100: 2^-33 when widened, 0 through the instruction (DAZ)
    const one = (isa: Isa): number => {
      native.setIsa(isa);
      const C = tensor([1, 1], 'float32');
      native.gemm(tensor([1, 2], 'bfloat16', new Uint16Array([0x0001, 0x3f80])), tensor([2, 1], 'bfloat16', new Uint16Array([0x7180, 0])), C, false, false, 1, 0, null);
      return read(C)[0];
    };
    assert.is(one('avx512'), 2 ** -33);
    assert.is(one('avx512bf16'), 0);
  } finally {
    native.setIsa('auto');
    native.setNumThreads(t0);
    freeAll();
  }
});

/** [what t holds, what it should hold given the fp32 result ref], in t's own dtype. */
function stored(t: TensorHandle, ref: Float32Array): [number[], number[]] {
  return t.dtype === 'bfloat16' ? [Array.from(bits(t)), Array.from(f32ToBf16(ref))] : [Array.from(read(t)), Array.from(ref)];
}

// A bf16 C follows torch.autocast (native/backend.h): the bias enters rounded to bf16 (or given in
// bf16) and the GELU reads the pre-activation rounded to bf16; an fp32 C keeps the fp32 values.
// The AVX-512 kernels round in their epilogue (native/cpu/gemm.cc's Narrow), the others in passes
// after the fp32 GEMM: each ISA against its own fp32 products. K = 1600 spans two K blocks of
// every kernel, so the rounding follows an accumulation through the fp32 scratch.
test('bf16 outputs: rounded once, the bias in bf16 and the GELU of the rounded pre-activation (autocast), bit for bit, every ISA', () => {
  const t0 = native.numThreads();
  try {
    underIsas(ISAS, (isa) => {
    const rng = mulberry32(17);
    for (const [batch, M, N, K] of [[1, 1, 1, 3], [1, 37, 70, 53], [3, 9, 130, 20], [1, 20, 40, 1600]]) {
      const cShape = batch > 1 ? [batch, M, N] : [M, N];
      const [Ab, A] = randBf16(rng, batch * M * K, 2);
      const [Bb, B] = randBf16(rng, N * K, 0.4);
      const bias = new Float32Array(N).map(() => rng() - 0.5);
      const biasBits = f32ToBf16(bias), biasR = bf16ToF32(biasBits);
      const aShape = batch > 1 ? [batch, M, K] : [M, K];
      for (const th of [1, 2]) {
        native.setNumThreads(th);
        for (const operands of ['float32', 'bfloat16'] as const) {
          const a = () => tensor(aShape, operands, operands === 'bfloat16' ? Ab : A);
          const b = () => tensor([N, K], operands, operands === 'bfloat16' ? Bb : B);
          const what = `${batch}x${M}x${N}x${K} ${operands} ${isa} ${th}t`;
          // fp32 references: with the fp32 bias (fp32 outputs) and with the rounded one (bf16 outputs)
          const c32 = tensor(cShape, 'float32'), c32r = tensor(cShape, 'float32');
          native.gemm(a(), b(), c32, false, true, 1.5, 0, tensor([N], 'float32', bias));
          native.gemm(a(), b(), c32r, false, true, 1.5, 0, tensor([N], 'float32', biasR));
          for (const bt of ['float32', 'bfloat16'] as const) {
            const c16 = tensor(cShape, 'bfloat16');
            native.gemm(a(), b(), c16, false, true, 1.5, 0, bt === 'float32' ? tensor([N], 'float32', bias) : tensor([N], 'bfloat16', biasBits));
            assert.equal(Array.from(bits(c16)), Array.from(f32ToBf16(read(c32r))), `gemm ${what}, ${bt} bias`);
          }
          assert.not.equal(Array.from(read(c32r)), Array.from(read(c32)), 'the rounded bias changes the result');
          const y32 = tensor(cShape, 'float32'), p32 = tensor(cShape, 'float32');
          native.gemmGelu(a(), b(), y32, p32, true, tensor([N], 'float32', bias));
          const p32r = tensor(cShape, 'float32');
          native.gemm(a(), b(), p32r, false, true, 1, 0, tensor([N], 'float32', biasR));
          // what a bf16 C holds: gelu of the rounded pre-activation (of the rounded bias), rounded
          const yAuto = tensor(cShape, 'float32');
          native.geluFwd(tensor(cShape, 'float32', bf16ToF32(f32ToBf16(read(p32r)))), yAuto);
          // every mix of output dtypes: C alone, pre alone, both
          for (const [yd, pd] of [['bfloat16', 'bfloat16'], ['bfloat16', 'float32'], ['float32', 'bfloat16']] as const) {
            const y = tensor(cShape, yd), pre = tensor(cShape, pd);
            native.gemmGelu(a(), b(), y, pre, true, tensor([N], 'float32', bias));
            const bf16C = yd === 'bfloat16';
            assert.equal(...stored(y, read(bf16C ? yAuto : y32)), `gemmGelu out ${yd}/${pd} ${what}`);
            assert.equal(...stored(pre, read(bf16C ? p32r : p32)), `gemmGelu pre ${yd}/${pd} ${what}`);
          }
          const yB = tensor(cShape, 'bfloat16'), pB = tensor(cShape, 'bfloat16');
          native.gemmGelu(a(), b(), yB, pB, true, tensor([N], 'bfloat16', biasBits));
          assert.equal(...stored(yB, read(yAuto)), `gemmGelu out, bf16 bias ${what}`);
          assert.equal(...stored(pB, read(p32r)), `gemmGelu pre, bf16 bias ${what}`);
          const yOnly = tensor(cShape, 'bfloat16');
          native.gemmGelu(a(), b(), yOnly, null, true, null);
          assert.ok(bits(yOnly).some((v) => v !== 0), 'inference gemmGelu wrote C');
          freeAll();
        }
      }
    }
    });
  } finally {
    native.setNumThreads(t0);
    freeAll();
  }
});

test('geluBwd from a bf16 pre-activation: the fp32 kernel on the widened values, and its bf16 rounding', () => {
  const rng = mulberry32(23);
  try {
    for (const n of [1, 1023, 1025, 20000]) {
      const [xb, x] = randBf16(rng, n, 6);
      const dy = new Float32Array(n).map(() => rng() * 2 - 1);
      const want = tensor([n], 'float32');
      native.geluBwd(tensor([n], 'float32', x), tensor([n], 'float32', dy), want);
      const dx = tensor([n], 'float32'), dx16 = tensor([n], 'bfloat16');
      native.geluBwd(tensor([n], 'bfloat16', xb), tensor([n], 'float32', dy), dx, dx16);
      assert.equal(Array.from(read(dx)), Array.from(read(want)), `dx n=${n}`);
      assert.equal(Array.from(bits(dx16)), Array.from(f32ToBf16(read(want))), `dx16 n=${n}`);
      const dxOnly = tensor([n], 'float32');
      native.geluBwd(tensor([n], 'bfloat16', xb), tensor([n], 'float32', dy), dxOnly, null);
      assert.equal(Array.from(read(dxOnly)), Array.from(read(want)), `dx without dx16, n=${n}`);
      freeAll();
    }
  } finally {
    freeAll();
  }
});

test('geluBwd with a bf16 dy (fc2\'s input gradient): the fp32 kernel on both widened, to the bit, db and dx16 too', () => {
  const rng = mulberry32(31);
  try {
    for (const [rows, cols] of [[1, 1], [3, 1023], [5, 1025], [40, 96]]) {
      const n = rows * cols;
      const [xb, x] = randBf16(rng, n, 6);
      const [gb, g] = randBf16(rng, n, 2);
      const want = tensor([rows, cols], 'float32');
      native.geluBwd(tensor([rows, cols], 'float32', x), tensor([rows, cols], 'float32', g), want);
      const wantDb = tensor([cols], 'float32');
      native.sumRows(want, wantDb, false);
      const dx = tensor([rows, cols], 'float32'), dx16 = tensor([rows, cols], 'bfloat16'), db = tensor([cols], 'float32');
      native.geluBwd(tensor([rows, cols], 'bfloat16', xb), tensor([rows, cols], 'bfloat16', gb), dx, dx16, db, false);
      const label = `[${rows},${cols}]`;
      assert.equal(Array.from(read(dx)), Array.from(read(want)), `dx ${label}`);
      assert.equal(Array.from(bits(dx16)), Array.from(f32ToBf16(read(want))), `dx16 ${label}`);
      assert.equal(Array.from(read(db)), Array.from(read(wantDb)), `db ${label}`);
      const dxOnly = tensor([rows, cols], 'float32');  // the no-db path, tiles over the flat range
      native.geluBwd(tensor([rows, cols], 'bfloat16', xb), tensor([rows, cols], 'bfloat16', gb), dxOnly);
      assert.equal(Array.from(read(dxOnly)), Array.from(read(want)), `dx without db ${label}`);
      freeAll();
    }
    assert.throws(() => native.geluBwd(tensor([4], 'float32'), tensor([4], 'bfloat16'), tensor([4], 'float32')),
      (e: Error) => /geluBwd: a bfloat16 dy goes with a bfloat16 x/.test(e.message));
  } finally {
    freeAll();
  }
});

test('geluBwd with db: fc1 bias gradient summed in the same pass, bit for bit sumRows of dx; dx may be null', () => {
  const rng = mulberry32(29);
  try {
    for (const [rows, cols] of [[1, 1], [7, 3], [300, 17], [33, 1500]]) {
      const n = rows * cols;
      const [xb, x] = randBf16(rng, n, 6);
      const dy = new Float32Array(n).map(() => rng() * 2 - 1);
      const want = tensor([rows, cols], 'float32');
      native.geluBwd(tensor([rows, cols], 'float32', x), tensor([rows, cols], 'float32', dy), want);
      const db0 = new Float32Array(cols).map(() => rng() - 0.5);
      for (const acc of [false, true]) {
        const wantDb = tensor([cols], 'float32', db0);
        native.sumRows(want, wantDb, acc);
        const dx = tensor([rows, cols], 'float32'), dx16 = tensor([rows, cols], 'bfloat16'), db = tensor([cols], 'float32', db0);
        native.geluBwd(tensor([rows, cols], 'bfloat16', xb), tensor([rows, cols], 'float32', dy), dx, dx16, db, acc);
        const label = `[${rows},${cols}] accumulate ${acc}`;
        assert.equal(Array.from(read(db)), Array.from(read(wantDb)), `db ${label}`);
        assert.equal(Array.from(read(dx)), Array.from(read(want)), `dx ${label}`);
        assert.equal(Array.from(bits(dx16)), Array.from(f32ToBf16(read(want))), `dx16 ${label}`);
        // the trainer's call: no fp32 gradient at all
        const only16 = tensor([rows, cols], 'bfloat16'), db2 = tensor([cols], 'float32', db0);
        native.geluBwd(tensor([rows, cols], 'bfloat16', xb), tensor([rows, cols], 'float32', dy), null, only16, db2, acc);
        assert.equal(Array.from(bits(only16)), Array.from(bits(dx16)), `dx16 without dx ${label}`);
        assert.equal(Array.from(read(db2)), Array.from(read(wantDb)), `db without dx ${label}`);
      }
      freeAll();
    }
    // a float64 check of the sums themselves, on a column of 5000 rows
    const [xb, x] = randBf16(rng, 5000, 3);
    const dy = new Float32Array(5000).map(() => rng() * 2 - 1);
    const dx = tensor([5000, 1], 'float32'), db = tensor([1], 'float32');
    native.geluBwd(tensor([5000, 1], 'bfloat16', xb), tensor([5000, 1], 'float32', dy), dx, null, db, false);
    let s = 0;
    for (const v of read(dx)) s += v;
    assert.ok(Math.abs(read(db)[0] - s) <= 1e-6 * Math.max(1, Math.abs(s)), `db ${read(db)[0]} vs float64 ${s}`);
    assert.ok(Math.abs(s) > 1, 'the column sum is not trivially small');
  } finally {
    freeAll();
  }
});

test('sumRows with xb: the bias gradient and the bf16 operand in one pass, each bit for bit the separate ops', () => {
  const rng = mulberry32(31);
  try {
    for (const [rows, cols] of [[1, 1], [5, 1], [13, 17], [3001, 96]]) {
      const x = new Float32Array(rows * cols).map(() => (rng() * 2 - 1) * 3);
      const o0 = new Float32Array(cols).map(() => rng() - 0.5);
      for (const acc of [false, true]) {
        const want = tensor([cols], 'float32', o0), got = tensor([cols], 'float32', o0), xb = tensor([rows, cols], 'bfloat16');
        const xh = tensor([rows, cols], 'float32', x);
        native.sumRows(xh, want, acc);
        native.sumRows(xh, got, acc, xb);
        assert.equal(Array.from(read(got)), Array.from(read(want)), `sums [${rows},${cols}] accumulate ${acc}`);
        assert.equal(Array.from(bits(xb)), Array.from(f32ToBf16(x)), `xb [${rows},${cols}]`);
      }
      freeAll();
    }
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
    assert.match(message(() => native.gemm(a16, tensor([4, 5], 'bfloat16'), tensor([3, 5], 'int32'), false, false, 1, 0, null)), /C must be float32 or bfloat16, got i32\[3,5\]/);
    assert.match(message(() => native.gemm(a16, tensor([4, 5], 'bfloat16'), tensor([3, 5], 'bfloat16'), false, false, 1, 1, null)), /beta must be 0 when C is bfloat16/);
    assert.match(message(() => native.gemmGelu(a16, tensor([5, 4], 'bfloat16'), c, tensor([3, 5], 'int32'), true, null)), /pre must be float32 or bfloat16/);
    assert.match(message(() => native.geluBwd(c, c, c, tensor([3, 5], 'bfloat16'))), /dx16 is only written for a bfloat16 x/);
    assert.match(message(() => native.geluBwd(tensor([3, 5], 'bfloat16'), c, c, c)), /dx16.*bf16|dx16.*bfloat16/);
    assert.match(message(() => native.geluBwd(c, c, c, null, tensor([5], 'float32'))), /db is only summed for a bfloat16 x/);
    assert.match(message(() => native.geluBwd(c, c, null)), /geluBwd: dx must be a tensor for a float32 x/);
    assert.match(message(() => native.geluBwd(tensor([3, 5], 'bfloat16'), c, null, null)), /geluBwd: nothing to write: give dx, dx16 or db/);
    assert.match(message(() => native.geluBwd(tensor([3, 5], 'bfloat16'), c, null, null, tensor([4], 'float32'))), /geluBwd: x bf16\[3,5\]\S* is not a whole number of rows of db f32\[4\]/);
    assert.match(message(() => native.sumRows(c, tensor([5], 'float32'), false, tensor([3, 5], 'float32'))), /sumRows: xb/);
    assert.match(message(() => native.sumRows(c, tensor([5], 'float32'), false, tensor([5, 3], 'bfloat16'))), /sumRows.*xb/);
    assert.match(message(() => native.gemm(a16, tensor([5, 5], 'bfloat16'), c, false, false, 1, 0, null)), /shapes do not agree/);
    // a bf16 bias only where the output is bf16 (an fp32 C keeps the fp32 bias)
    assert.match(message(() => native.gemm(a16, tensor([4, 5], 'bfloat16'), c, false, false, 1, 0, tensor([5], 'bfloat16'))), /bias must be float32 \(or bfloat16 with a bfloat16 C\), got bf16\[5\]\S* with C f32\[3,5\]/);
    assert.match(message(() => native.gemm(a16, tensor([4, 5], 'bfloat16'), tensor([3, 5], 'bfloat16'), false, false, 1, 0, tensor([5], 'int32'))), /bias must be float32/);
  } finally {
    freeAll();
  }
});

test.run();
