// Peak native memory of one pretraining step at the default config (configs/pretrain.yaml: 256
// tokens, D=192 x 6, predictor 96 x 4, batch 8), above the resident model and optimizer:
// bf16 mixed precision against fp32, both on this machine's CPU in the same run. And what the
// host allocator holds (live + cached blocks) after steps whose masks change every iteration,
// as in training, against the most those steps ever had live.
import { join } from 'node:path';
import { native } from '../lib/native.js';
import { Tensor, memoryStats } from '../lib/tensor.js';
import { AdamW } from '../lib/optim/adamw.js';
import { pretrainStep } from '../lib/train/iteration.js';
import { buildMaskCollator, buildModel } from '../lib/train/pretrain.js';
import { loadPretrainConfig } from '../lib/config/index.js';
import type { MatmulDtype } from '../lib/ops/autocast.js';
import { Rng } from '../lib/util/rng.js';
import type { BenchRow } from './types.js';
import { ROOT } from './torch.js';

type Masks = { ctx: Tensor; tgt: Tensor }[];
interface DefaultSteps {
  /** Mask batch i (each call also advances the collator's counters, as in training). */
  masks(i: number): Masks;
  /** One default-config pretraining step on random clips; disposes the masks. */
  step(masks: Masks): void;
}

function withDefaultSteps<T>(matmulDtype: MatmulDtype, fn: (d: DefaultSteps) => T): T {
  const { config: cfg } = loadPretrainConfig(join(ROOT, 'configs/pretrain.yaml'));
  const B = cfg.data.batch_size;
  const model = buildModel(cfg);
  const opt = new AdamW(model.paramGroups());
  const rng = new Rng(1);
  const shape = [B, 3, cfg.data.num_frames, cfg.data.crop_size, cfg.data.crop_size];
  const clips = Tensor.from(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
  const collator = buildMaskCollator(cfg);
  const s = { lossExp: 1, regCoeff: 0, lr: 1e-4, wd: 0.04, momentum: 0.999, clipGrad: 10, matmulDtype };
  try {
    return fn({
      masks(i) {
        const m = collator.sample(i, B);
        return m.ctx.map((c, k) => ({ ctx: Tensor.from(c.data, [B, c.K], 'int32'), tgt: Tensor.from(m.tgt[k].data, [B, m.tgt[k].K], 'int32') }));
      },
      step(masks) {
        pretrainStep(model, opt, clips, masks, s);
        for (const t of masks.flatMap((x) => [x.ctx, x.tgt])) t.dispose();
      },
    });
  } finally {
    clips.dispose();
    opt.dispose();
    model.dispose();
  }
}

function stepPeakMiB(matmulDtype: MatmulDtype): number {
  return withDefaultSteps(matmulDtype, (d) => {
    const masks = d.masks(0);
    const again = masks.map((m) => ({ ctx: m.ctx.clone(), tgt: m.tgt.clone() }));
    d.step(masks); // creates the AdamW state
    const base = memoryStats().cpuBytes;
    native.resetPeak();
    d.step(again); // the same masks
    return (memoryStats().cpuPeakBytes - base) / 2 ** 20;
  });
}

function heldAfterSteps(steps: number): { held: number; peak: number } {
  return withDefaultSteps('float32', (d) => {
    native.emptyCache();
    native.resetPeak();
    for (let i = 0; i < steps; i++) d.step(d.masks(i));
    const st = memoryStats();
    return { held: (st.cpuBytes + st.cpuCachedBytes) / 2 ** 20, peak: st.cpuPeakBytes / 2 ** 20 };
  });
}

export function benchStepMemory(): BenchRow[] {
  const fp32 = stepPeakMiB('float32');
  const bf16 = stepPeakMiB('bfloat16');
  const steps = 40;
  const { held, peak } = heldAfterSteps(steps);
  return [
    { group: 'memory', name: 'default-config step peak above the model, bf16 mixed precision', unit: 'MiB', ours: bf16, reference: fp32, referenceName: 'the same step in fp32', higherIsBetter: false },
    { group: 'memory', name: `host allocator's hold (live + cached) after ${steps} default-config steps, fresh masks each`, unit: 'MiB', ours: held, reference: peak, referenceName: 'the most those steps had live', higherIsBetter: false },
  ];
}
