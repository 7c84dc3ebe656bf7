// Where the ViT-L/16 step's time goes (issue 7): the step bench's iteration (configs/vitl16.yaml,
// bf16, one batch size) with every addon call followed by a synchronising read, timed by wall
// clock and summed by call and by call + operand shapes. The sync after each call adds a few
// microseconds to each of the ~3,700 launches, so the total exceeds the bench's step time; the
// split is what this is for. Run on a GPU, after the step bench (needs dist/ built):
//   node test/gpu/profile_step.mjs [batch]        # default 32
//   node test/gpu/profile_step.mjs --tiny         # harness self-check: vit_tiny at 64 px on the CPU
import { join } from 'node:path';
import { compiled } from './dist.mjs';
import { clipBatch, disposeMasks, maskTensors, stepModules, stepSettings } from './step_inputs.mjs';

const { root, lib } = compiled(import.meta.url, 'lib/train/iteration.js');
const { native, Tensor, AdamW, pretrainStep, buildModel, buildMaskCollator, loadPretrainConfig, Rng, CastPlan } = await stepModules(lib);

const tiny = process.argv.includes('--tiny');
const info = native.cudaInfo();
if (!tiny && (!info.available || info.emulated)) {
  console.log(`profile_step: needs a GPU (${info.reason ?? 'emulator'}); --tiny runs the CPU self-check`);
  process.exit(0);
}
const dev = tiny ? 'cpu' : 'cuda';
const B = tiny ? 2 : Number(process.argv[2] ?? 32);
const sets = tiny
  ? ['model.model_name=vit_tiny', 'model.depth=2', 'model.pred_depth=2', 'model.pred_embed_dim=96', 'data.crop_size=64', 'data.num_frames=8']
  : [];
const { config: cfg } = loadPretrainConfig(join(root, 'configs/vitl16.yaml'), sets);
const m = buildMaskCollator(cfg).sample(0, B);
const model = buildModel(cfg).to(dev);
const opt = new AdamW(model.paramGroups());
const shape = [B, 3, cfg.data.num_frames, cfg.data.crop_size, cfg.data.crop_size];
const clips = clipBatch(Tensor, Rng, shape, dev);
const masks = maskTensors(Tensor, m, B, dev);
const settings = stepSettings(CastPlan);
const probe = Tensor.zeros([1], 'float32', dev);
const sumSquares = native.sumSquares;
const sync = () => sumSquares(probe.handle);

const byCall = new Map(), byShape = new Map();
const TH = native.TensorHandle;
const describe = (a) => {
  if (a instanceof TH) {
    const d = a.dtype;
    return `${a.shape.join('x')}${d === 'float32' ? '' : d === 'bfloat16' ? 'h' : ':' + d}`;
  }
  if (typeof a === 'boolean') return a ? 'T' : 'F';
  if (typeof a === 'number') return String(Math.round(a * 1000) / 1000);
  return a === null ? '-' : '';
};
let on = false;
for (const k of Object.keys(native)) {
  const f = native[k];
  if (typeof f !== 'function' || /^(TensorHandle|cudaInfo|tensor\w+|stats|empty|zeros|reshape|narrow)$/.test(k)) continue;
  native[k] = function (...a) {
    if (!on) return f.apply(this, a);
    const t0 = performance.now();
    const r = f.apply(this, a);
    sync();
    const ms = performance.now() - t0;
    for (const [map, key] of [[byCall, k], [byShape, `${k}(${a.map(describe).join(' ')})`]]) {
      const e = map.get(key) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += ms;
      map.set(key, e);
    }
    return r;
  };
}

pretrainStep(model, opt, clips, masks, settings);
pretrainStep(model, opt, clips, masks, settings);
sync();
let t0 = performance.now();
pretrainStep(model, opt, clips, masks, settings);
const plain = performance.now() - t0;
on = true;
t0 = performance.now();
pretrainStep(model, opt, clips, masks, settings);
const synced = performance.now() - t0;
on = false;
const inCalls = [...byCall.values()].reduce((s, e) => s + e.ms, 0);
console.log(`${tiny ? 'tiny self-check' : 'ViT-L/16'} batch ${B}: step ${plain.toFixed(1)} ms; with a sync after each call ${synced.toFixed(1)} ms, of which ${inCalls.toFixed(1)} ms inside addon calls`);
const table = (title, map, n) => {
  console.log(`\n| ${title} | calls | ms | % of calls |\n|---|---|---|---|`);
  for (const [k, e] of [...map].sort((a, b) => b[1].ms - a[1].ms).slice(0, n))
    console.log(`| ${k} | ${e.n} | ${e.ms.toFixed(2)} | ${((e.ms / inCalls) * 100).toFixed(1)} |`);
};
table('addon call', byCall, 30);
table('addon call (operands)', byShape, 45);
disposeMasks(masks);
clips.dispose();
probe.dispose();
opt.dispose();
model.dispose();
