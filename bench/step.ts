// End-to-end V-JEPA train steps, ours vs PyTorch (reference/bench_torch.py --only step / dispatch):
// depth-6 vit_tiny, predictor 96x4, batch 8, 16 frames at 112 px, patch 16 (392 tokens), two masks
// with the MASK-02 batch-min sizes for that grid, L1 loss, AdamW, EMA; and the same iteration with
// the ViT-L's structure at width 16, where only the per-op cost shows.
import { Tensor, tidy } from '../lib/tensor.js';
import { native } from '../lib/native.js';
import { backward } from '../lib/autograd.js';
import { VJepa } from '../lib/nn/vjepa.js';
import { AdamW, gradNorm } from '../lib/optim/adamw.js';
import { jepaForward, type MaskPair } from '../lib/train/iteration.js';
import { Rng } from '../lib/util/rng.js';
import type { BenchRow } from './types.js';
import { torchReference } from './torch.js';

export interface StepSpec {
  part: 'step' | 'dispatch';
  name: string;
  model: { modelName: string; overrides: Record<string, number>; cropSize: number; patchSize: number; numFrames: number; predEmbedDim: number; predDepth: number };
  batch: number;
  /** Context / target sizes per mask config: reference/bench_torch.py's STEP_MASKS / DISPATCH_MASKS. */
  masks: { ctx: number[]; tgt: number[] };
  warmup: number;
  reps: number;
}

const STEP: StepSpec = {
  part: 'step',
  name: 'vit_tiny d6, pred 96x4, B8, 16x112², 392 tok, fp32',
  model: { modelName: 'vit_tiny', overrides: { depth: 6 }, cropSize: 112, patchSize: 16, numFrames: 16, predEmbedDim: 96, predDepth: 4 },
  batch: 8,
  // mean batch-min sizes over 2000 batches of the shipped mask configs on the 8x7x7 grid
  masks: { ctx: [99, 42], tgt: [205, 276] },
  warmup: 2,
  reps: 8,
};

// The ViT-L step's structure (encoder depth 24, predictor depth 12) at width 16 on 4 tokens: the
// compute is negligible, so this times the per-op cost of the framework (JS, the addon's calls,
// handle creation, the autograd tape; Python and the dispatcher on torch's side).
// test/gpu/launches.mjs counts this model's kernel launches.
export const DISPATCH: StepSpec = {
  part: 'dispatch',
  name: 'dispatch-bound: ViT-L structure (d24, pred d12) at width 16, 4 tok, B1',
  model: { modelName: 'vit_large', overrides: { embed_dim: 16, num_heads: 1 }, cropSize: 16, patchSize: 8, numFrames: 2, predEmbedDim: 16, predDepth: 12 },
  batch: 1,
  masks: { ctx: [1, 1], tgt: [3, 3] },
  warmup: 5,
  reps: 40,
};

function masks(spec: StepSpec, N: number, rng: Rng): MaskPair[] {
  const B = spec.batch;
  return spec.masks.ctx.map((kc, i) => {
    const kt = spec.masks.tgt[i];
    const ctx = new Int32Array(B * kc);
    const tgt = new Int32Array(B * kt);
    for (let b = 0; b < B; b++) {
      const p = rng.permutation(N);
      ctx.set(Array.from(p.subarray(0, kc)).sort((x, y) => x - y), b * kc);
      tgt.set(Array.from(p.subarray(kc, kc + kt)).sort((x, y) => x - y), b * kt);
    }
    return { ctx: Tensor.from(ctx, [B, kc], 'int32'), tgt: Tensor.from(tgt, [B, kt], 'int32') };
  });
}

/** Median ms of one full iteration (forward, backward, grad norm, AdamW, EMA) of spec's model. */
function timeStep(spec: StepSpec): number {
  const B = spec.batch;
  const m = spec.model;
  const model = new VJepa({ ...m, tubeletSize: 2, uniformPower: true, numMaskTokens: 2, zeroInitMaskTokens: true, seed: 0 });
  const opt = new AdamW(model.paramGroups());
  const rng = new Rng(1);
  const x = Tensor.from(Float32Array.from({ length: B * 3 * m.numFrames * m.cropSize ** 2 }, () => rng.normal()), [B, 3, m.numFrames, m.cropSize, m.cropSize]);
  const pairs = masks(spec, model.encoder.numTokens, rng);
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
  for (let i = 0; i < spec.warmup; i++) step();
  for (let i = 0; i < spec.reps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  x.dispose();
  for (const p of pairs) {
    p.ctx.dispose();
    p.tgt.dispose();
  }
  opt.dispose();
  model.dispose();
  return times[Math.floor(times.length / 2)];
}

function row(spec: StepSpec, threads: number, reps?: number): BenchRow {
  const ours = timeStep(reps ? { ...spec, reps } : spec);
  const ref = torchReference(spec.part, threads);
  return {
    group: 'train step',
    name: spec.name,
    unit: 'ms',
    ours,
    reference: ref ? ref.ms_median : null,
    referenceName: 'PyTorch eager fp32 (same step)',
    higherIsBetter: false,
  };
}

export async function benchStep(opts: { threads: number; reps?: number }): Promise<BenchRow[]> {
  native.setNumThreads(opts.threads);
  return [row(STEP, opts.threads, opts.reps), row(DISPATCH, opts.threads)];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchStep({ threads: 2 });
  console.table(rows);
}
