// End-to-end V-JEPA train step, ours vs PyTorch (reference/bench_torch.py --only step):
// depth-6 vit_tiny, predictor 96x4, batch 8, 16 frames at 112 px, patch 16 (392 tokens),
// two masks with the MASK-02 batch-min sizes for that grid, L1 loss, AdamW, EMA.
import { Tensor, tidy } from '../lib/tensor.js';
import { native } from '../lib/native.js';
import { backward } from '../lib/autograd.js';
import { VJepa } from '../lib/nn/vjepa.js';
import { AdamW, gradNorm } from '../lib/optim/adamw.js';
import { jepaForward, type MaskPair } from '../lib/train/iteration.js';
import { Rng } from '../lib/util/rng.js';
import type { BenchRow } from './types.js';
import { torchReference } from './torch.js';

// The same K as reference/bench_torch.py (STEP_MASKS): mean batch-min sizes over 2000 batches.
const MASKS = { ctx: [99, 42], tgt: [205, 276] };

function masks(B: number, N: number, rng: Rng): MaskPair[] {
  return [0, 1].map((i) => {
    const ctx = new Int32Array(B * MASKS.ctx[i]);
    const tgt = new Int32Array(B * MASKS.tgt[i]);
    for (let b = 0; b < B; b++) {
      const p = rng.permutation(N);
      const c = Array.from(p.subarray(0, MASKS.ctx[i])).sort((x, y) => x - y);
      const t = Array.from(p.subarray(MASKS.ctx[i], MASKS.ctx[i] + MASKS.tgt[i])).sort((x, y) => x - y);
      ctx.set(c, b * MASKS.ctx[i]);
      tgt.set(t, b * MASKS.tgt[i]);
    }
    return { ctx: Tensor.from(ctx, [B, MASKS.ctx[i]], 'int32'), tgt: Tensor.from(tgt, [B, MASKS.tgt[i]], 'int32') };
  });
}

export async function benchStep(opts: { threads: number; reps?: number }): Promise<BenchRow[]> {
  native.setNumThreads(opts.threads);
  const B = 8;
  const model = new VJepa({
    modelName: 'vit_tiny',
    overrides: { depth: 6 },
    cropSize: 112,
    patchSize: 16,
    numFrames: 16,
    tubeletSize: 2,
    uniformPower: true,
    predEmbedDim: 96,
    predDepth: 4,
    numMaskTokens: 2,
    zeroInitMaskTokens: true,
    seed: 0,
  });
  const opt = new AdamW(model.paramGroups());
  const rng = new Rng(1);
  const x = Tensor.from(Float32Array.from({ length: B * 3 * 16 * 112 * 112 }, () => rng.normal()), [B, 3, 16, 112, 112]);
  const pairs = masks(B, model.encoder.numTokens, rng);
  const params = [...model.encoder.trainableParameters(), ...model.predictor.trainableParameters()].map(([, t]) => t);
  const step = () => {
    tidy(() => {
      const out = jepaForward(model, x, pairs, 1, 0);
      backward(out.loss);
    });
    gradNorm(params);
    opt.step(6.25e-4, 0.04);
    model.zeroGrad();
    model.emaUpdate(0.998);
  };
  const times: number[] = [];
  for (let i = 0; i < 2; i++) step();
  for (let i = 0; i < (opts.reps ?? 8); i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  x.dispose();
  for (const p of pairs) {
    p.ctx.dispose();
    p.tgt.dispose();
  }
  opt.dispose();
  model.dispose();
  const ref = torchReference('step', opts.threads);
  return [
    {
      group: 'train step',
      name: 'vit_tiny d6, pred 96x4, B8, 16x112², 392 tok, fp32',
      unit: 'ms',
      ours: median,
      reference: ref ? ref.ms_median : null,
      referenceName: 'PyTorch eager fp32 (same step)',
      higherIsBetter: false,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchStep({ threads: 2 });
  console.table(rows);
}
