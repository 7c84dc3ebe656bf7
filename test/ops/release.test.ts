// Tensor.release(): an intermediate's data is freed at once while its place in the autograd graph
// stays, so backward still runs through it; reading it afterwards is an error, not garbage.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tidy, memoryStats } from '../../lib/tensor.js';
import { backward } from '../../lib/autograd.js';
import { add } from '../../lib/ops/elementwise.js';
import { linear } from '../../lib/ops/linear.js';
import { Block } from '../../lib/nn/block.js';
import { InitRng } from '../../lib/nn/init.js';
import { mulberry32 } from '../helpers/random.js';

const rng = mulberry32(5);
const randn = (n: number) => new Float32Array(n).map(() => rng() * 2 - 1);

test('a released intermediate frees its bytes, keeps shape, device and graph; gradients are unchanged', () => {
  const x = randn(6 * 8), w = randn(8 * 8);
  const grads = (release: boolean) =>
    tidy(() => {
      const X = Tensor.from(x, [6, 8]);
      X.requiresGrad = true;
      const W = Tensor.from(w, [8, 8]);
      const h = linear(X, W, null); // consumed by add, which saves nothing
      const before = memoryStats().cpuBytes;
      const y = add(h, X);
      if (release) {
        h.release();
        assert.is(memoryStats().cpuBytes, before, 'y allocated as many bytes as h freed');
        assert.equal(h.shape, [6, 8]);
        assert.is(h.device, 'cpu');
        assert.ok(h.gradFn, 'still in the graph');
        assert.throws(() => h.toFloat32Array(), /after dispose/);
      }
      backward(y, Tensor.full([6, 8], 1));
      return Array.from(X.grad!.toFloat32Array());
    });
  assert.equal(grads(true), grads(false));
});

test('a transformer block frees its consumed intermediates: same outputs and gradients, fewer live bytes', () => {
  const block = new Block(16, 2, 64, 1e-6, new InitRng(3));
  const x = randn(2 * 5 * 16);
  const out = tidy(() => {
    const X = Tensor.from(x, [2, 5, 16]);
    X.requiresGrad = true;
    const y = block.forward(X);
    const live = memoryStats().liveTensors;
    backward(y, Tensor.full([2, 5, 16], 1));
    return { y: Array.from(y.toFloat32Array()), gx: Array.from(X.grad!.toFloat32Array()), live };
  });
  // the same block without the releases, by hand
  const ref = tidy(() => {
    const X = Tensor.from(x, [2, 5, 16]);
    X.requiresGrad = true;
    const h = add(X, block.attn.forward(block.norm1.forward(X)));
    const y = add(h, block.mlp.forward(block.norm2.forward(h)));
    const live = memoryStats().liveTensors;
    backward(y, Tensor.full([2, 5, 16], 1));
    return { y: Array.from(y.toFloat32Array()), gx: Array.from(X.grad!.toFloat32Array()), live };
  });
  assert.equal(out.y, ref.y);
  assert.equal(out.gx, ref.gx);
  assert.ok(out.live < ref.live, `live tensors after forward: ${out.live} with releases, ${ref.live} without`);
  block.dispose();
});

test.run();
