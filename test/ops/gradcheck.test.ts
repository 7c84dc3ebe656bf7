// Every differentiable op against central finite differences. The objective is
// L = Σ out ⊙ R for a fixed random R, accumulated in float64 on the host, so the
// float32 forward's rounding stays far below the tolerance.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tidy } from '../../lib/tensor.js';
import { ACCUMULATED, backward, noGrad, record } from '../../lib/autograd.js';
import { native } from '../../lib/native.js';
import { linear, linearGelu } from '../../lib/ops/linear.js';
import { layerNorm } from '../../lib/ops/layernorm.js';
import { selfAttention, crossAttention } from '../../lib/ops/attention.js';
import { add, addBroadcast, scale, reshape } from '../../lib/ops/elementwise.js';
import { gatherTokens, concatTokens, sliceTokens, concatBatch, repeatBatch } from '../../lib/ops/tokens.js';
import { patchEmbed3d } from '../../lib/ops/patch_embed.js';
import { predictionLoss, varianceHinge, weightedSum, crossEntropy } from '../../lib/ops/loss.js';
import { mulberry32 as rng } from '../helpers/random.js';

const rand = rng(1234);
function randn(shape: number[], s = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = (rand() * 2 - 1) * s;
  return Tensor.from(d, shape);
}

function leaf(shape: number[], s = 1): Tensor {
  const t = randn(shape, s);
  t.requiresGrad = true;
  return t;
}

/** Checks d(Σ f(inputs) ⊙ R)/d input for every input at `samples` random coordinates. */
function gradcheck(name: string, inputs: Tensor[], f: (xs: Tensor[]) => Tensor, opts: { h?: number; tol?: number; samples?: number } = {}) {
  const h = opts.h ?? 1e-2;
  const tol = opts.tol ?? 2e-2;
  const samples = opts.samples ?? 6;
  tidy(() => {
    const out0 = noGrad(() => f(inputs));
    const R = randn(out0.shape).toFloat32Array();
    const objective = (): number =>
      tidy(() => {
        const o = noGrad(() => f(inputs)).toFloat32Array();
        let s = 0;
        for (let i = 0; i < o.length; i++) s += o[i] * R[i];
        return s;
      }) as number;
    const out = f(inputs);
    const Rt = Tensor.from(R, out.shape);
    backward(out, Rt);
    inputs.forEach((x, which) => {
      if (!x.requiresGrad) return;
      assert.ok(x.grad, `${name}: input ${which} got no gradient`);
      const g = x.grad!.toFloat32Array();
      const vals = x.toFloat32Array();
      for (let s = 0; s < samples; s++) {
        const i = Math.floor(rand() * vals.length);
        const orig = vals[i];
        vals[i] = orig + h;
        x.write(vals);
        const lp = objective();
        vals[i] = orig - h;
        x.write(vals);
        const lm = objective();
        vals[i] = orig;
        x.write(vals);
        const fd = (lp - lm) / (2 * h);
        const err = Math.abs(fd - g[i]) / Math.max(1e-2, Math.abs(fd), Math.abs(g[i]));
        assert.ok(err < tol, `${name}: input ${which}[${i}] analytic ${g[i]} vs finite-difference ${fd} (err ${err.toExponential(2)})`);
      }
      x.grad!.dispose();
      x.grad = null;
    });
  });
  for (const x of inputs) x.dispose();
}

test('linear (3-D input, bias)', () => gradcheck('linear', [leaf([2, 5, 7]), leaf([3, 7]), leaf([3])], ([x, w, b]) => linear(x, w, b)));
test('linear without bias', () => gradcheck('linear', [leaf([4, 6]), leaf([5, 6])], ([x, w]) => linear(x, w, null)));
test('linear with a residual (the block\'s x + proj(...) in the GEMM)', () =>
  gradcheck('linear', [leaf([2, 5, 7]), leaf([3, 7]), leaf([3]), leaf([2, 5, 3])], ([x, w, b, r]) => linear(x, w, b, { residual: r })));
test('linearGelu (fused fc1 + GELU)', () => gradcheck('linearGelu', [leaf([3, 4, 6]), leaf([9, 6]), leaf([9])], ([x, w, b]) => linearGelu(x, w, b)));
test('layerNorm affine', () => gradcheck('layerNorm', [leaf([3, 4, 7]), leaf([7]), leaf([7])], ([x, w, b]) => layerNorm(x, w, b, 1e-6)));
test('layerNorm without affine', () => gradcheck('layerNorm', [leaf([5, 9])], ([x]) => layerNorm(x, null, null, 1e-5)));
test('a pre-norm residual, x + proj(ln(x)): layerNorm adds its dx into the residual\'s gradient in place', () => {
  let adds = 0;
  const axpby = native.axpby;
  native.axpby = (...a) => {
    adds++;
    return axpby.apply(native, a);
  };
  try {
    gradcheck('pre-norm residual', [leaf([2, 5, 7]), leaf([7, 7]), leaf([7]), leaf([7]), leaf([7])],
      ([x, w, b, lw, lb]) => linear(layerNorm(x, lw, lb, 1e-6), w, b, { residual: x }));
  } finally {
    native.axpby = axpby;
  }
  assert.is(adds, 0, 'the engine added no gradients: layerNorm accumulated into the residual view');
});
test('a node claiming ACCUMULATED for an input with no pending gradient is an error, not a lost gradient', () => {
  tidy(() => {
    const x = leaf([2, 3]);
    const out = record(Tensor.empty([2, 3], 'float32', 'cpu'), 'claims', [x], [], () => [ACCUMULATED]);
    assert.throws(() => backward(out, Tensor.full([2, 3], 1, 'cpu')), /claims returned ACCUMULATED for input 0, which had no pending gradient/);
    x.dispose();
  });
});
test('layerNorm whose pending input gradient shares storage with its own output gradient falls back to a fresh dx', () => {
  // a node handing one gradient's views to both inputs (as add would without its clone)
  const both = (a: Tensor, b: Tensor): Tensor => {
    const out = Tensor.empty(a.shape, 'float32', a.device);
    native.axpby(a.handle, b.handle, out.handle, 1, 1);
    return record(out, 'both', [a, b], [], (g) => [g.view(a.shape), g.view(b.shape)]);
  };
  gradcheck('aliased pending gradient', [leaf([3, 6]), leaf([6]), leaf([6])], ([x, lw, lb]) => both(x, layerNorm(x, lw, lb, 1e-6)));
});
test('selfAttention (fused qkv, 2 heads)', () => gradcheck('selfAttention', [leaf([2, 5, 3 * 8])], ([qkv]) => selfAttention(qkv, 2)));
test('crossAttention (1 query, 2 heads)', () =>
  gradcheck('crossAttention', [leaf([2, 1, 8]), leaf([2, 6, 16])], ([q, kv]) => crossAttention(q, kv, 2)));
test('add and addBroadcast', () => {
  gradcheck('add', [leaf([3, 4]), leaf([3, 4])], ([a, b]) => add(a, b));
  gradcheck('addBroadcast', [leaf([2, 3, 4]), leaf([1, 3, 4])], ([x, v]) => addBroadcast(x, v));
});
test('scale and reshape', () => gradcheck('scale', [leaf([2, 6])], ([x]) => reshape(scale(x, -1.7), [3, 4])));
test('gatherTokens (duplicate indices, broadcast batch)', () => {
  const idx = Tensor.from(new Int32Array([0, 2, 2, 1, 3, 0]), [2, 3], 'int32');
  gradcheck('gather', [leaf([2, 4, 3])], ([x]) => gatherTokens(x, idx));
  gradcheck('gather-bcast', [leaf([1, 4, 3])], ([x]) => gatherTokens(x, idx));
  idx.dispose();
});
test('concatTokens, sliceTokens, concatBatch, repeatBatch', () => {
  gradcheck('concatTokens', [leaf([2, 3, 4]), leaf([2, 2, 4])], ([a, b]) => concatTokens(a, b));
  gradcheck('sliceTokens', [leaf([2, 5, 3])], ([x]) => sliceTokens(x, 1, 3));
  gradcheck('concatBatch', [leaf([1, 3, 2]), leaf([2, 3, 2])], ([a, b]) => concatBatch([a, b]));
  gradcheck('repeatBatch', [leaf([1, 2, 3])], ([x]) => repeatBatch(x, 3));
});
test('patchEmbed3d (weight and bias; kept tokens only)', () => {
  const video = randn([2, 3, 4, 6, 6]);
  const idx = Tensor.from(new Int32Array([0, 3, 7, 1, 2, 6]), [2, 3], 'int32');
  gradcheck('patchEmbed3d', [leaf([5, 3, 2, 3, 3]), leaf([5])], ([w, b]) => patchEmbed3d(video, idx, w, b));
  gradcheck('patchEmbed3d-all', [leaf([4, 3, 2, 3, 3]), leaf([4])], ([w, b]) => patchEmbed3d(video, null, w, b));
  video.dispose();
  idx.dispose();
});
test('predictionLoss (loss_exp 1 and 2), varianceHinge, weightedSum', () => {
  const target = randn([2, 3, 4]);
  gradcheck('l1', [leaf([2, 3, 4])], ([p]) => predictionLoss(p, target, 1), { h: 1e-3 });
  gradcheck('l2', [leaf([2, 3, 4])], ([p]) => predictionLoss(p, target, 2));
  gradcheck('hinge', [leaf([2, 5, 3], 0.3), leaf([2, 4, 3], 0.3)], ([a, b]) => varianceHinge([a, b]), { h: 1e-3 });
  gradcheck('weightedSum', [leaf([2, 3, 4]), leaf([2, 3, 4])], ([a, b]) =>
    weightedSum([predictionLoss(a, target, 2), predictionLoss(b, target, 2)], [0.5, 2]));
  target.dispose();
});
test('crossEntropy', () => {
  const labels = Tensor.from(new Int32Array([2, 0, 4]), [3], 'int32');
  gradcheck('crossEntropy', [leaf([3, 5], 2)], ([x]) => crossEntropy(x, labels));
  labels.dispose();
});
test('a shape mismatch names the op and shapes', () => {
  tidy(() => {
    assert.throws(() => linear(randn([2, 5]), randn([3, 4]), null), /linear: input \[2,5\] does not end in the weight's in_features 4/);
    assert.throws(() => linear(randn([2, 4]), randn([3, 4]), null, { residual: randn([2, 4]) }), /linear: residual \[2,4\] is not the output's shape \[2,3\]/);
    assert.throws(() => add(randn([2, 5]), randn([3, 4])), /add: shapes \[2,5\] and \[3,4\] differ/);
  });
});

test.run();
