// 1000 forward+backward+AdamW iterations of a small 2-block transformer must leave the
// count of live native buffers and the process RSS flat (issue: explicit memory).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tidy, memoryStats } from '../../lib/tensor.js';
import { backward, noGrad } from '../../lib/autograd.js';
import { Block } from '../../lib/nn/block.js';
import { VisionTransformer } from '../../lib/nn/vit.js';
import { InitRng } from '../../lib/nn/init.js';
import { predictionLoss } from '../../lib/ops/loss.js';
import { AdamW } from '../../lib/optim/adamw.js';
import { Module } from '../../lib/nn/module.js';
import { gc, settledLive } from '../helpers/gc.js';

// A collected heap makes RSS comparable across points in time.
function settledRss(): number {
  gc();
  gc();
  return process.memoryUsage().rss;
}

class Tiny extends Module {
  readonly blocks: Block[];
  constructor(rng: InitRng) {
    super();
    this.blocks = [0, 1].map((i) => (this as unknown as { child: (n: string, m: Block) => Block }).child(`blocks.${i}`, new Block(32, 2, 64, 1e-6, rng)));
  }
}

test('1000 iterations keep live buffers and RSS flat', async () => {
  const before = await settledLive();
  const rng = new InitRng(7);
  const model = new Tiny(rng);
  const opt = new AdamW([{ name: 'all', params: model.trainableParameters(), wdExcluded: false }]);
  const x = Tensor.from(Float32Array.from({ length: 4 * 16 * 32 }, (_, i) => Math.sin(i)), [4, 16, 32]);
  const y = Tensor.zeros([4, 16, 32]);
  let live100 = 0;
  let rss100 = 0;
  let lastLoss = Infinity;
  for (let it = 0; it < 1000; it++) {
    tidy(() => {
      let h = x;
      for (const b of model.blocks) h = b.forward(h);
      const loss = predictionLoss(h, y, 1);
      lastLoss = loss.item();
      backward(loss);
    });
    opt.step(1e-3, 0.01);
    model.zeroGrad();
    // The trainer awaits its loader every step; handle finalisers run when the loop turns.
    await new Promise((r) => setImmediate(r));
    if (it === 500) {
      live100 = memoryStats().liveTensors;
      rss100 = settledRss();
    }
  }
  const live1000 = memoryStats().liveTensors;
  const grow = (settledRss() - rss100) / 2 ** 20;
  assert.is(live1000, live100, `live native buffers ${live100} at iteration 500 vs ${live1000} at 1000`);
  // V8 grows its young generation for a while under this allocation rate, then plateaus
  // (measured: ~+30 MiB over the first 2000 iterations, then flat to 12000); a native leak
  // of even one 32x64 activation per iteration would add > 4 MiB per 500 iterations on top.
  assert.ok(grow < 24, `RSS grew ${grow.toFixed(1)} MiB between iterations 500 and 1000`);
  assert.ok(Number.isFinite(lastLoss));
  x.dispose();
  y.dispose();
  opt.dispose();
  model.dispose();
  assert.is(await settledLive(), before, 'everything is freed at the end');
});


// A forward with no graph (a target encoder, a frozen one) needs none of its blocks' activations
// once the next block has run. They used to stay until the caller's scope ended: a ViT-L target
// encoder held every block's residual stream and qkv, 0.5 GB per clip (a third of the H200 step's
// peak). Now only the output (and its cached position table) outlives the forward.
test('a ViT forward without a graph releases each block\'s activations as it goes; with one it keeps what backward reads', () => {
  const vit = new VisionTransformer({ imgSize: 32, patchSize: 8, numFrames: 4, tubeletSize: 2, embedDim: 48, depth: 6, numHeads: 3, mlpRatio: 4, uniformPower: false }, new InitRng(3));
  const clip = Tensor.from(Float32Array.from({ length: 2 * 3 * 4 * 32 * 32 }, (_, i) => Math.sin(i * 0.37)), [2, 3, 4, 32, 32]);
  const counts = (withGrad: boolean) =>
    tidy(() => {
      const live0 = memoryStats().liveTensors;
      const y = withGrad ? vit.forward(clip) : noGrad(() => vit.forward(clip));
      const grown = memoryStats().liveTensors - live0;
      const y2 = withGrad ? null : noGrad(() => vit.forward(clip));  // deterministic: the same output
      if (y2) assert.equal(Array.from(y2.toFloat32Array()), Array.from(y.toFloat32Array()));
      return grown;
    });
  const frozen = counts(false), trained = counts(true);
  // the output, and at most the position table made on first use
  assert.ok(frozen <= 2, `a frozen forward left ${frozen} tensors alive`);
  // with a graph each of the 6 blocks keeps its inputs and saved tensors for backward
  assert.ok(trained > 6 * 5, `a training forward kept only ${trained} tensors`);
  clip.dispose();
  vit.dispose();
});

test.run();
