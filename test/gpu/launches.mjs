// Kernel launches per pretraining iteration, by addon call, for the bench's dispatch-bound model
// (bench/step.ts DISPATCH: the ViT-L step's structure, encoder depth 24 and predictor depth 12, at
// width 16 on 4 tokens): the count does not depend on the widths, and small widths keep it quick
// on the CUDA emulator. bf16 mixed precision, without and with gradient clipping.
//   VJEPA_ADDON=$PWD/build-emu/Release/vjepa.node VJEPA_CUBLAS=$PWD/build-emu/Release/libcublas_emu.so node test/gpu/launches.mjs
//   node test/gpu/launches.mjs            # on a GPU (needs dist/ built)
import { compiled } from './dist.mjs';
import { disposeMasks } from './step_inputs.mjs';

const { lib, dist } = compiled(import.meta.url, 'lib/train/iteration.js');
const { native } = await lib('native.js');
const { Tensor } = await lib('tensor.js');
const { AdamW } = await lib('optim/adamw.js');
const { pretrainStep } = await lib('train/iteration.js');
const { VJepa } = await lib('nn/vjepa.js');
const { CastPlan } = await lib('ops/autocast.js');
const { DISPATCH } = await dist('bench/step.js');

const info = native.cudaInfo();
if (!info.available) {
  console.log(`CUDA unavailable: ${info.reason}`);
  process.exit(0);
}
const dev = 'cuda';
const m = DISPATCH.model, B = DISPATCH.batch;
const model = new VJepa({ ...m, tubeletSize: 2, uniformPower: true, numMaskTokens: 2, zeroInitMaskTokens: true, seed: 0 }).to(dev);
const opt = new AdamW(model.paramGroups());
const x = Tensor.from(Float32Array.from({ length: B * 3 * m.numFrames * m.cropSize ** 2 }, (_, i) => Math.sin(i)),
  [B, 3, m.numFrames, m.cropSize, m.cropSize], 'float32', dev);
// Each mask config keeps its first K_ctx tokens as context and predicts the next K_tgt.
const ids = (k, o) => Int32Array.from({ length: B * k }, (_, i) => (i % k) + o);
const masks = DISPATCH.masks.ctx.map((kc, i) => {
  const kt = DISPATCH.masks.tgt[i];
  return { ctx: Tensor.from(ids(kc, 0), [B, kc], 'int32', dev), tgt: Tensor.from(ids(kt, kc), [B, kt], 'int32', dev) };
});

// Wrap every addon call to attribute launches to it.
const counts = new Map();
for (const k of Object.keys(native)) {
  const f = native[k];
  if (typeof f !== 'function' || k === 'TensorHandle' || k === 'cudaInfo') continue;
  native[k] = function (...a) {
    const l0 = native.cudaInfo().launches;
    const r = f.apply(this, a);
    const c = counts.get(k) ?? { calls: 0, launches: 0 };
    c.calls++;
    c.launches += native.cudaInfo().launches - l0;
    counts.set(k, c);
    return r;
  };
}

for (const clipGrad of [null, 1e-9]) {
  // the trainer's settings: its weight plan learns at the first step and rounds them together after
  const s = { lossExp: 1, regCoeff: 0, clipGrad, lr: 1e-4, wd: 0.04, momentum: 0.998, matmulDtype: 'bfloat16', castPlan: new CastPlan() };
  pretrainStep(model, opt, x, masks, s); // first step: optimizer state, the plan
  counts.clear();
  const l0 = native.cudaInfo().launches;
  pretrainStep(model, opt, x, masks, s);
  console.log(`\n${clipGrad === null ? 'no clipping' : 'clipping'}: ${native.cudaInfo().launches - l0} kernel launches per step (a GEMM counted as one)`);
  console.log('| addon call | calls | launches |\n|---|---|---|');
  for (const [k, v] of [...counts].filter(([, v]) => v.launches).sort((a, b) => b[1].launches - a[1].launches))
    console.log(`| ${k} | ${v.calls} | ${v.launches} |`);
}
disposeMasks(masks);
x.dispose();
opt.dispose();
model.dispose();
