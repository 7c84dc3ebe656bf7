// Peak memory of the ViT-L/16 pretraining step (configs/vitl16.yaml, bf16 mixed precision) at two
// small batch sizes, and what each extra clip adds: a step's peak at batch 32 is about the fixed
// part plus 32 times the per-clip part. Runs on the CPU (the same ops and the same allocator
// accounting as CUDA's) or on a GPU, without torch. Masks: the config's sizes at batch 32, first
// rows, so each clip carries the step bench's token counts.
//   node test/gpu/vitl_memory.mjs           # CPU: about 2 minutes, 10 GiB
//   node test/gpu/vitl_memory.mjs cuda      # on a GPU
import { join } from 'node:path';
import { compiled } from './dist.mjs';
import { clipBatch, disposeMasks, maskTensors, stepModules, stepSettings } from './step_inputs.mjs';

const { root, lib } = compiled(import.meta.url, 'lib/train/iteration.js');
const { native, Tensor, memoryStats, AdamW, pretrainStep, buildModel, buildMaskCollator, loadPretrainConfig, Rng, CastPlan } = await stepModules(lib);

const device = process.argv[2] ?? 'cpu';
const { config: cfg } = loadPretrainConfig(join(root, 'configs/vitl16.yaml'), []);
const sizes = buildMaskCollator(cfg).sample(0, 32);
const bytes = (st) => (device === 'cpu' ? [st.cpuBytes, st.cpuPeakBytes] : [st.cudaBytes, st.cudaPeakBytes]);

function peak(B) {
  const model = buildModel(cfg);
  if (device !== 'cpu') model.to(device);
  const opt = new AdamW(model.paramGroups());
  const shape = [B, 3, cfg.data.num_frames, cfg.data.crop_size, cfg.data.crop_size];
  const clips = clipBatch(Tensor, Rng, shape, device);
  const masks = maskTensors(Tensor, sizes, B, device);
  const s = stepSettings(CastPlan);
  try {
    pretrainStep(model, opt, clips, masks, s);  // creates the AdamW state
    const [base] = bytes(memoryStats());
    native.resetPeak();
    pretrainStep(model, opt, clips, masks, s);
    const [, top] = bytes(memoryStats());
    return { base, top };
  } finally {
    disposeMasks(masks);
    clips.dispose();
    opt.dispose();
    model.dispose();
    if (device !== 'cpu') native.emptyCache();
  }
}

const GiB = 2 ** 30;
const a = peak(1), b = peak(2);
const perClip = b.top - a.top, fixed = a.top - perClip;
console.log(`ViT-L/16 step on ${device}, bf16, masks of ${sizes.ctx.map((c) => c.K).join('+')} context / ${sizes.tgt.map((t) => t.K).join('+')} target tokens:`);
console.log(`  between steps (weights, grads, AdamW, target encoder) ${(a.base / GiB).toFixed(2)} GiB`);
console.log(`  step peak: batch 1 ${(a.top / GiB).toFixed(2)} GiB, batch 2 ${(b.top / GiB).toFixed(2)} GiB`);
console.log(`  per clip ${(perClip / GiB).toFixed(2)} GiB; batch 32 would peak near ${((fixed + 32 * perClip) / GiB).toFixed(1)} GiB`);
