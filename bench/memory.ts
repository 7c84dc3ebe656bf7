// Live native buffers and RSS across 3000 training iterations of a 2-block transformer:
// both must stay flat after warm-up (the reference is the value at iteration 500).
import { Tensor, tidy, memoryStats } from '../lib/tensor.js';
import { backward } from '../lib/autograd.js';
import { Block } from '../lib/nn/block.js';
import { InitRng } from '../lib/nn/init.js';
import { predictionLoss } from '../lib/ops/loss.js';
import { AdamW } from '../lib/optim/adamw.js';
import type { BenchRow } from './types.js';

export async function benchMemory(iterations = 3000): Promise<BenchRow[]> {
  const rng = new InitRng(1);
  const blocks = [new Block(64, 4, 256, 1e-6, rng), new Block(64, 4, 256, 1e-6, rng)];
  const params = blocks.flatMap((b) => b.trainableParameters());
  const opt = new AdamW([{ name: 'all', params, wdExcluded: false }]);
  const x = Tensor.from(Float32Array.from({ length: 8 * 64 * 64 }, (_, i) => Math.sin(i)), [8, 64, 64]);
  const y = Tensor.zeros([8, 64, 64]);
  let live500 = 0;
  let rss500 = 0;
  for (let it = 1; it <= iterations; it++) {
    tidy(() => {
      let h = x;
      for (const b of blocks) h = b.forward(h);
      backward(predictionLoss(h, y, 1));
    });
    opt.step(1e-3, 0.01);
    for (const b of blocks) b.zeroGrad();
    await new Promise((r) => setImmediate(r));
    if (it === 500) {
      live500 = memoryStats().liveTensors;
      rss500 = process.memoryUsage().rss;
    }
  }
  const rows: BenchRow[] = [
    { group: 'memory', name: `live native buffers after ${iterations} it`, unit: 'count', ours: memoryStats().liveTensors, reference: live500, referenceName: 'at iteration 500', higherIsBetter: false },
    { group: 'memory', name: `RSS after ${iterations} it`, unit: 'MiB', ours: process.memoryUsage().rss / 2 ** 20, reference: rss500 / 2 ** 20, referenceName: 'at iteration 500', higherIsBetter: false },
  ];
  x.dispose();
  y.dispose();
  opt.dispose();
  for (const b of blocks) b.dispose();
  return rows;
}
