// bf16 mixed precision (lib/ops/autocast.ts): under autocast('bfloat16') the linear, fused
// fc1+GELU and patch-embedding GEMMs see bf16-rounded operands (forward: input and weight;
// backward: the upstream gradient too) and nothing else changes. Each op is checked bit for
// bit against fp32 GEMMs fed explicitly rounded values, then the region's rules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../lib/native.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { backward } from '../../lib/autograd.js';
import { CastPlan, autocast, matmulDtype } from '../../lib/ops/autocast.js';
import { linear, linearGelu } from '../../lib/ops/linear.js';
import { patchEmbed3d } from '../../lib/ops/patch_embed.js';
import { selfAttention } from '../../lib/ops/attention.js';
import { AdamW } from '../../lib/optim/adamw.js';
import { bf16ToF32, f32ToBf16 } from '../../lib/io/host-tensor.js';
import { mulberry32 } from '../helpers/random.js';
import { settledLive } from '../helpers/gc.js';


const rng = mulberry32(31337);
// These tests pin which operands autocast rounds by comparing, bit for bit, with the fp32 GEMM on
// the rounded values: the widened bf16 path (every ISA below 'avx512bf16') computes exactly that.
// The vdpbf16ps kernel rounds its sums its own way (test/native/gemm_bf16.test.ts checks it).
test.before(() => {
  if (native.isa().best === 'avx512bf16') native.setIsa('avx512');
});
test.after(() => {
  native.setIsa('auto');
});
const randn = (n: number, s = 1) => new Float32Array(n).map(() => (rng() + rng() + rng() - 1.5) * 2 * s);
const round = (a: Float32Array) => bf16ToF32(f32ToBf16(a));
const param = (data: Float32Array, shape: number[]) => {
  const t = Tensor.from(data, shape);
  t.requiresGrad = true;
  return t;
};
const same = (got: Float32Array, want: Float32Array, what: string) => {
  for (let i = 0; i < want.length; i++)
    if (!Object.is(got[i], want[i])) assert.unreachable(`${what}: element ${i}: got ${got[i]}, want ${want[i]}`);
};
/** A bf16 tensor's values, widened (exact). */
const widened = (t: Tensor): Float32Array =>
  tidy(() => {
    assert.is(t.dtype, 'bfloat16');
    const f = Tensor.empty(t.shape);
    native.cast(t.handle, f.handle);
    return f.toFloat32Array();
  });
/** C = op(A) op(B) (+ beta C) with the fp32 GEMM. */
function mm(A: Float32Array, aShape: number[], B: Float32Array, bShape: number[], ta: boolean, tb: boolean, M: number, N: number, bias?: Float32Array): Float32Array {
  return tidy(() => {
    const c = Tensor.zeros([M, N]);
    native.gemm(Tensor.from(A, aShape).handle, Tensor.from(B, bShape).handle, c.handle, ta, tb, 1, 0, bias ? Tensor.from(bias, [N]).handle : null);
    return c.toFloat32Array();
  });
}

/** Σ over rows of a [rows, cols] gradient with the backend's kernel: the bias gradient. */
const sumRows = (g: Tensor): Float32Array =>
  tidy(() => {
    const t = Tensor.zeros([g.shape[g.rank - 1]]);
    native.sumRows(g.handle, t.handle, true);
    return t.toFloat32Array();
  });

test('linear: forward and every gradient use bf16-rounded GEMM operands, bias grad in fp32', () => {
  const [R, din, dout] = [37, 48, 29];
  const x = randn(R * din), w = randn(dout * din, 0.2), b = randn(dout), g = randn(R * dout);
  tidy(() => {
    const X = param(x, [R, din]), W = param(w, [dout, din]), Bv = param(b, [dout]);
    const y = autocast('bfloat16', () => linear(X, W, Bv));
    same(y.toFloat32Array(), mm(round(x), [R, din], round(w), [dout, din], false, true, R, dout, b), 'y');
    backward(y, Tensor.from(g, [R, dout]));
    same(X.grad!.toFloat32Array(), mm(round(g), [R, dout], round(w), [dout, din], false, false, R, din), 'dx');
    same(W.grad!.toFloat32Array(), mm(round(g), [R, dout], round(x), [R, din], true, false, dout, din), 'dw');
    same(Bv.grad!.toFloat32Array(), sumRows(Tensor.from(g, [R, dout])), 'db (unrounded g)');
    // fp32 outside any region: a different (unrounded) product
    const y32 = linear(X, W, Bv);
    assert.not.equal(Array.from(y32.toFloat32Array()), Array.from(y.toFloat32Array()));
    // a bf16 output (q, k, v): the bias enters in bf16, as torch.autocast casts it
    const yb = autocast('bfloat16', () => linear(X, W, Bv, { productOperand: true }));
    same(widened(yb), round(mm(round(x), [R, din], round(w), [dout, din], false, true, R, dout, round(b))), 'y (bf16 output)');
    assert.not.equal(Array.from(widened(yb)), Array.from(round(y.toFloat32Array())), 'the rounded bias changed it');
  });
});

test('linearGelu: fc1 + GELU under bf16 as torch.autocast (bf16 bias, GELU of the rounded pre-activation), gradient rounded before the GEMMs', () => {
  const [R, din, dout] = [21, 40, 64];
  const x = randn(R * din), w = randn(dout * din, 0.3), b = randn(dout), g = randn(R * dout);
  tidy(() => {
    const X = param(x, [R, din]), W = param(w, [dout, din]), Bv = param(b, [dout]);
    const y = autocast('bfloat16', () => linearGelu(X, W, Bv));
    // reference: the fp32 GEMM on rounded operands with the rounded bias, GELU of its rounding
    const pre = Tensor.zeros([R, dout]), y32 = Tensor.zeros([R, dout]);
    native.gemm(Tensor.from(round(x), [R, din]).handle, Tensor.from(round(w), [dout, din]).handle, pre.handle, false, true, 1, 0, Tensor.from(round(b), [dout]).handle);
    native.geluFwd(Tensor.from(round(pre.toFloat32Array()), [R, dout]).handle, y32.handle);
    // then one rounding: the output is the next GEMM's operand
    same(widened(y), round(y32.toFloat32Array()), 'y');
    // the pre-activation is saved in bf16: backward sees it rounded
    const dpre = Tensor.zeros([R, dout]);
    native.geluBwd(Tensor.from(round(pre.toFloat32Array()), [R, dout]).handle, Tensor.from(g, [R, dout]).handle, dpre.handle);
    const d = dpre.toFloat32Array();
    backward(y, Tensor.from(g, [R, dout]));
    same(X.grad!.toFloat32Array(), mm(round(d), [R, dout], round(w), [dout, din], false, false, R, din), 'dx');
    same(W.grad!.toFloat32Array(), mm(round(d), [R, dout], round(x), [R, din], true, false, dout, din), 'dw');
    same(Bv.grad!.toFloat32Array(), sumRows(dpre), 'db (unrounded gradient)');
  });
});

test('the MLP under bf16: fc2 takes the bf16 hidden layer as it is; a bf16 input outside a region is refused', () => {
  const [R, din, dh] = [13, 24, 40];
  const x = randn(R * din), w1 = randn(dh * din, 0.3), w2 = randn(din * dh, 0.3), b2 = randn(din), g = randn(R * din);
  tidy(() => {
    const X = param(x, [R, din]), W1 = param(w1, [dh, din]), W2 = param(w2, [din, dh]), B2 = param(b2, [din]);
    let hidden: Float32Array | null = null;
    const out = autocast('bfloat16', () => {
      const h = linearGelu(X, W1, null);
      hidden = widened(h);
      return linear(h, W2, B2);
    });
    assert.is(out.dtype, 'float32', 'the residual branch stays fp32');
    same(out.toFloat32Array(), mm(hidden!, [R, dh], round(w2), [din, dh], false, true, R, din, b2), 'fc2(h)');
    backward(out, Tensor.from(g, [R, din]));
    same(W2.grad!.toFloat32Array(), mm(round(g), [R, din], hidden!, [R, dh], true, false, din, dh), 'dw2');
    assert.is(X.grad!.dtype, 'float32');
    const h16 = autocast('bfloat16', () => linearGelu(X, W1, null));
    assert.throws(() => linear(h16, W2, B2), /bfloat16 input .* outside autocast/);
  });
});

test('patchEmbed3d: unfolded patches and the conv weight enter the GEMM as bf16', () => {
  const [B, C, T, H, W, t, p, D] = [2, 3, 4, 8, 12, 2, 4, 24];
  const video = randn(B * C * T * H * W), w = randn(D * C * t * p * p, 0.1), b = randn(D);
  const K = (T / t) * (H / p) * (W / p), cols = C * t * p * p;
  const idx = Int32Array.from({ length: B * 7 }, (_, i) => (i * 5 + (i >= 7 ? 1 : 0)) % K);
  const g = randn(B * 7 * D);
  tidy(() => {
    const V = Tensor.from(video, [B, C, T, H, W]), I = Tensor.from(idx, [B, 7], 'int32');
    const Wt = param(w, [D, C, t, p, p]), Bv = param(b, [D]);
    const out = autocast('bfloat16', () => patchEmbed3d(V, I, Wt, Bv));
    const patches = Tensor.zeros([B, 7, cols]);
    native.unfoldTubelets(Tensor.from(round(video), [B, C, T, H, W]).handle, I.handle, patches.handle, t, p);
    const P = patches.toFloat32Array();
    same(out.toFloat32Array(), mm(P, [B * 7, cols], round(w), [D, cols], false, true, B * 7, D, b), 'tokens');
    backward(out, Tensor.from(g, [B, 7, D]));
    same(Wt.grad!.toFloat32Array(), mm(round(g), [B * 7, D], P, [B * 7, cols], true, false, D, cols), 'dw');
  });
});

test('attention: the CPU backend ignores the bf16 flag (tensor cores are CUDA-only), forward and backward', () => {
  const [B, N, D, H] = [2, 19, 24, 3];
  const qkv = randn(B * N * 3 * D), g = randn(B * N * D);
  const run = (dtype: 'float32' | 'bfloat16') =>
    tidy(() => {
      const x = param(qkv, [B, N, 3 * D]);
      const y = autocast(dtype, () => selfAttention(x, H));
      backward(y, Tensor.from(g, [B, N, D]));
      return [y.toFloat32Array(), x.grad!.toFloat32Array()];
    });
  const [y32, g32] = run('float32');
  const [y16, g16] = run('bfloat16');
  same(y16, y32, 'out');
  same(g16, g32, 'dqkv');
});

test('autocast regions: nesting, fp32 inside bf16, weights frozen inside, backward outside, nothing leaked', async () => {
  const before = await settledLive();
  assert.is(matmulDtype(), 'float32');
  autocast('bfloat16', () => {
    assert.is(matmulDtype(), 'bfloat16');
    autocast('float32', () => assert.is(matmulDtype(), 'float32'));
    assert.is(matmulDtype(), 'bfloat16');
  });
  assert.is(matmulDtype(), 'float32');
  assert.throws(() => autocast('bfloat16', () => { throw new Error('boom'); }), /boom/);
  assert.is(matmulDtype(), 'float32', 'an exception leaves the region');

  const [R, din, dout] = [9, 16, 12];
  const x = randn(R * din), w = randn(dout * din), g = randn(R * dout);
  const W = param(w, [dout, din]);
  const X = Tensor.from(x, [R, din]);
  const opt = new AdamW([{ name: 'w', params: [['w', W]], wdExcluded: false }]);
  // one weight used twice in a region: both uses see the same bf16 copy; backward after the region
  const y = autocast('bfloat16', () => {
    const a = linear(X, W, null);
    const b2 = linear(X, W, null);
    assert.equal(Array.from(a.toFloat32Array()), Array.from(b2.toFloat32Array()));
    b2.dispose();
    assert.throws(() => opt.step(1e-3, 0), /AdamW.step: weights cannot change inside autocast/);
    return a;
  });
  backward(y, Tensor.from(g, [R, dout]));
  same(W.grad!.toFloat32Array(), mm(round(g), [R, dout], round(x), [R, din], true, false, dout, din), 'dw after the region');
  opt.step(1e-3, 0);
  y.dispose();
  X.dispose();
  opt.dispose();
  W.grad?.dispose();
  W.dispose();
  assert.is(await settledLive(), before, 'bf16 copies and saved operands are all freed');
});

test('a CastPlan: the first region learns its weights, later ones round them all up front by castMany, same bits', async () => {
  const before = await settledLive();
  const [R, d, h] = [7, 24, 40];
  const x = randn(R * d), g = randn(R * d);
  const W1 = param(randn(h * d, 0.2), [h, d]), B1 = param(randn(h), [h]), W2 = param(randn(d * h, 0.2), [d, h]);
  const X = Tensor.from(x, [R, d]);
  // fc1 with a bf16 output (its bias rounded too), then fc2: three weights to round
  const step = () => {
    const y = linear(linear(X, W1, B1, { productOperand: true }), W2, null);
    backward(y, Tensor.from(g, [R, d]));
    const out = [y.toFloat32Array(), ...[W1, B1, W2].map((t) => t.grad!.toFloat32Array())];
    y.dispose();
    for (const t of [W1, B1, W2]) {
      t.grad!.dispose();
      t.grad = null;
    }
    return out;
  };
  // which weights reach native.cast one at a time, and which castMany
  const cast = native.cast, castMany = native.castMany;
  const weights = new Map([[W1.handle, 'W1'], [B1.handle, 'B1'], [W2.handle, 'W2']]);
  let single: string[] = [], many: string[][] = [];
  native.cast = (s, dst) => {
    if (weights.has(s)) single.push(weights.get(s)!);
    cast(s, dst);
  };
  native.castMany = (ss, ds) => {
    many.push(ss.map((s) => weights.get(s) ?? '?'));
    castMany(ss, ds);
  };
  try {
    const want = tidy(() => autocast('bfloat16', step));  // no plan
    assert.equal([single, many], [['W1', 'B1', 'W2'], []]);
    const plan = new CastPlan();
    for (let i = 0; i < 3; i++) {
      single = [];
      many = [];
      const got = tidy(() => autocast('bfloat16', step, plan));
      // the first region learns the order it met them in; the next ones cast them together
      assert.equal([single, many], i === 0 ? [['W1', 'B1', 'W2'], []] : [[], [['W1', 'B1', 'W2']]], `region ${i}`);
      got.forEach((a, k) => same(a, want[k], `region ${i}, output ${k}`));
    }
    assert.equal(plan.live().length, 3);
    // fp32 regions ignore the plan
    single = [];
    many = [];
    tidy(() => autocast('float32', step, plan));
    assert.equal([single, many], [[], []]);
    // a disposed weight leaves the plan; the region rounds the rest together and learns its replacement
    const W3 = param(randn(d * h, 0.2), [d, h]);
    weights.set(W3.handle, 'W3');
    W2.dispose();
    single = [];
    many = [];
    tidy(() =>
      autocast('bfloat16', () => {
        const y = linear(linear(X, W1, B1, { productOperand: true }), W3, null);
        y.dispose();
      }, plan),
    );
    assert.equal([single, many], [['W3'], [['W1', 'B1']]]);
    assert.equal(plan.live().length, 3);
    W3.dispose();
  } finally {
    native.cast = cast;
    native.castMany = castMany;
  }
  for (const t of [W1, B1, X]) t.dispose();
  assert.is(await settledLive(), before, 'the region frees the copies it made up front');
});

test.run();
