// Peak memory of the ViT-L/16 pretraining step (configs/vitl16.yaml, bf16 mixed precision) at two
// small batch sizes, and what each extra clip adds: a step's peak at batch 32 is about the fixed
// part plus 32 times the per-clip part. Runs on the CPU (the same ops and the same allocator
// accounting as CUDA's) or on a GPU, without torch. Masks: the config's sizes at batch 32, first
// rows, so each clip carries the step bench's token counts.
//   node test/gpu/vitl_memory.mjs           # CPU: about 2 minutes, 10 GiB
//   node test/gpu/vitl_memory.mjs cuda      # on a GPU
import { join } from 'node:path';
import { compiled } from './dist.mjs';

const { root, lib } = compiled(import.meta.url, 'lib/train/iteration.js');
const { native } = await lib('native.js');
const { Tensor, memoryStats } = await lib('tensor.js');
const { AdamW } = await lib('optim/adamw.js');
const { pretrainStep } = await lib('train/iteration.js');
const { buildModel, buildMaskCollator } = await lib('train/pretrain.js');
const { loadPretrainConfig } = await lib('config/index.js');

const device = process.argv[2] ?? 'cpu';
const { config: cfg } = loadPretrainConfig(join(root, 'configs/vitl16.yaml'), []);
const sizes = buildMaskCollator(cfg).sample(0, 32);
const bytes = (st) => (device === 'cpu' ? [st.cpuBytes, st.cpuPeakBytes] : [st.cudaBytes, st.cudaPeakBytes]);

function peak(B) {
  const model = buildModel(cfg);
  if (device !== 'cpu') model.to(device);
  const opt = new AdamW(model.paramGroups());
  const shape = [B, 3, cfg.data.num_frames, cfg.data.crop_size, cfg.data.crop_size];
  const clips = Tensor.from(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37)), shape, 'float32', device);
  const masks = sizes.ctx.map((c, i) => ({
    ctx: Tensor.from(c.data.slice(0, B * c.K), [B, c.K], 'int32', device),
    tgt: Tensor.from(sizes.tgt[i].data.slice(0, B * sizes.tgt[i].K), [B, sizes.tgt[i].K], 'int32', device),
  }));
  const s = { lossExp: 1, regCoeff: 0, lr: 1e-4, wd: 0.04, momentum: 0.999, clipGrad: 10, matmulDtype: 'bfloat16' };
  try {
    pretrainStep(model, opt, clips, masks, s);  // creates the AdamW state
    const [base] = bytes(memoryStats());
    native.resetPeak();
    pretrainStep(model, opt, clips, masks, s);
    const [, top] = bytes(memoryStats());
    return { base, top };
  } finally {
    for (const m of masks) {
      m.ctx.dispose();
      m.tgt.dispose();
    }
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
