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

function stepPeakMiB(matmulDtype: MatmulDtype): number {
  const { config: cfg } = loadPretrainConfig(join(ROOT, 'configs/pretrain.yaml'));
  const B = cfg.data.batch_size;
  const model = buildModel(cfg);
  const opt = new AdamW(model.paramGroups());
  const rng = new Rng(1);
  const shape = [B, 3, cfg.data.num_frames, cfg.data.crop_size, cfg.data.crop_size];
  const clips = Tensor.from(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
  const m = buildMaskCollator(cfg).sample(0, B);
  const masks = m.ctx.map((c, i) => ({ ctx: Tensor.from(c.data, [B, c.K], 'int32'), tgt: Tensor.from(m.tgt[i].data, [B, m.tgt[i].K], 'int32') }));
  const s = { lossExp: 1, regCoeff: 0, lr: 1e-4, wd: 0.04, momentum: 0.999, clipGrad: 10, matmulDtype };
  pretrainStep(model, opt, clips, masks, s); // creates the AdamW state
  const base = memoryStats().cpuBytes;
  native.resetPeak();
  pretrainStep(model, opt, clips, masks, s);
  const peak = (memoryStats().cpuPeakBytes - base) / 2 ** 20;
  for (const t of [clips, ...masks.flatMap((x) => [x.ctx, x.tgt])]) t.dispose();
  opt.dispose();
  model.dispose();
  return peak;
}

function heldAfterSteps(steps: number): { held: number; peak: number } {
  const { config: cfg } = loadPretrainConfig(join(ROOT, 'configs/pretrain.yaml'));
  const B = cfg.data.batch_size;
  const model = buildModel(cfg);
  const opt = new AdamW(model.paramGroups());
  const rng = new Rng(2);
  const shape = [B, 3, cfg.data.num_frames, cfg.data.crop_size, cfg.data.crop_size];
  const clips = Tensor.from(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
  const collator = buildMaskCollator(cfg);
  const s = { lossExp: 1, regCoeff: 0, lr: 1e-4, wd: 0.04, momentum: 0.999, clipGrad: 10, matmulDtype: 'float32' as const };
  native.emptyCache();
  native.resetPeak();
  for (let i = 0; i < steps; i++) {
    const m = collator.sample(i, B);
    const masks = m.ctx.map((c, k) => ({ ctx: Tensor.from(c.data, [B, c.K], 'int32'), tgt: Tensor.from(m.tgt[k].data, [B, m.tgt[k].K], 'int32') }));
    pretrainStep(model, opt, clips, masks, s);
    for (const t of masks.flatMap((x) => [x.ctx, x.tgt])) t.dispose();
  }
  const st = memoryStats();
  const held = (st.cpuBytes + st.cpuCachedBytes) / 2 ** 20;
  const peak = st.cpuPeakBytes / 2 ** 20;
  clips.dispose();
  opt.dispose();
  model.dispose();
  return { held, peak };
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
