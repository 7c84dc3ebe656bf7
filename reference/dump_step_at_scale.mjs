// One V-JEPA forward + backward at the default config size (configs/pretrain.yaml), dumped
// for reference/check_step_at_scale.py to recompute in PyTorch (fp64 and fp32).
//
//   npx tsc -p .                                  # the driver imports the compiled dist/ modules
//   VJEPA_THREADS=1 nice -n 19 node reference/dump_step_at_scale.mjs \
//       [--config configs/pretrain.yaml] [--data normal|loader] [--out runs/check_step_at_scale/step.safetensors]
//
// --data normal (default): standard-normal clips [B,3,T,H,W] from a fixed seed (Rng(1234)).
// --data loader: the first batch of the training loader on the config's dataset (data/synth
//   must already exist; run `npx vjepa-train configs/pretrain.yaml` once to create it).
// --checkpoint runs/pretrain/jepa-latest.safetensors: start from a trained checkpoint's encoder,
//   predictor and target encoder instead of the seeded init (peaky attention, grown weights).
//
// The model is built by lib/train/pretrain.ts's buildModel (same VJepa options and meta.seed),
// masks come from the MaskCollator for batch index 0, and the forward is lib/train/iteration.ts's
// jepaForward (so targets, both context passes, both predictor passes and the loss are ours).
// Written (all F32, integers I32, scalars shape [1]):
//   encoder.<k>, predictor.<k>, target_encoder.<k>   the weights used (init: target = copy of encoder)
//   x                               the clips
//   mask.ctx_i, mask.tgt_i          collator output for mask config i
//   loss, loss_jepa, loss_reg
//   grad.encoder.<k>, grad.predictor.<k>   pre-clip gradients of every trainable parameter
//   act.h                           target features (target encoder, all tokens, parameter-free LN)
//   act.p_i                         predictor outputs for mask config i
//   act.target.block<j>             target encoder output of block j (all tokens)
//   act.ctx<i>.block<j>             context encoder (mask config i) output of block j
//   act.pred<i>.block<j>            predictor (mask config i) output of block j
process.env.VJEPA_THREADS ??= '1';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(resolve(root, 'dist', p));

const { values: args } = parseArgs({
  options: {
    config: { type: 'string', default: 'configs/pretrain.yaml' },
    data: { type: 'string', default: 'normal' },
    out: { type: 'string', default: 'runs/check_step_at_scale/step.safetensors' },
    seed: { type: 'string', default: '1234' },
    checkpoint: { type: 'string' },
  },
});

const { native } = await dist('lib/native.js');
const { Tensor, tidy } = await dist('lib/tensor.js');
const { backward, noGrad } = await dist('lib/autograd.js');
const { loadPretrainConfig } = await dist('lib/config/index.js');
const { buildModel, buildMaskCollator, buildLoader } = await dist('lib/train/pretrain.js');
const { jepaForward } = await dist('lib/train/iteration.js');
const { writeSafetensors } = await dist('lib/io/safetensors.js');
const { Rng } = await dist('lib/util/rng.js');
const { targetNorm } = await dist('lib/nn/vit.js');

native.setNumThreads(Number(process.env.VJEPA_THREADS) || 1);
const { config: cfg } = loadPretrainConfig(resolve(root, args.config));
const B = cfg.data.batch_size;
const T = cfg.data.num_frames;
const S = cfg.data.crop_size;

// ---- model and masks, built by the trainer's own functions
const model = buildModel(cfg);
const collator = buildMaskCollator(cfg);

if (args.checkpoint) {
  const { loadCheckpoint } = await dist('lib/train/checkpoint.js');
  const { state } = loadCheckpoint(resolve(root, args.checkpoint), model, null);
  console.error(`loaded ${args.checkpoint} (iteration ${state.iteration})`);
}

const out = new Map();
const put = (name, data, shape, dtype = 'float32') => out.set(name, { dtype, shape: [...shape], data });
for (const [prefix, mod] of [['encoder', model.encoder], ['predictor', model.predictor], ['target_encoder', model.targetEncoder]])
  for (const [k, t] of mod.stateDict()) put(`${prefix}.${k}`, t.toFloat32Array(), t.shape);

// ---- one batch
let clips;
let batchIndex = 0;
if (args.data === 'normal') {
  const rng = new Rng(Number(args.seed));
  clips = new Float32Array(B * 3 * T * S * S);
  for (let i = 0; i < clips.length; i++) clips[i] = rng.normal();
} else if (args.data === 'loader') {
  if (cfg.data.num_clips !== 1) throw new Error('--data loader: only num_clips 1 is supported');
  const loader = buildLoader(cfg, cfg.data.datasets.map((p) => resolve(root, p)), 0, (s) => console.error(s));
  const it = loader[Symbol.asyncIterator]();
  const next = await it.next();
  clips = next.value.clips;
  batchIndex = next.value.batchIndex;
  await loader.close();
} else {
  throw new Error(`--data: expected normal or loader, got ${args.data}`);
}
const xShape = [B, 3, T, S, S];
if (clips.length !== B * 3 * T * S * S) throw new Error(`clips have ${clips.length} values, expected [${xShape}]`);
put('x', clips, xShape);

const maskBatch = collator.sample(batchIndex, B);
maskBatch.ctx.forEach((c, i) => {
  put(`mask.ctx_${i}`, c.data, [c.B, c.K], 'int32');
  put(`mask.tgt_${i}`, maskBatch.tgt[i].data, [maskBatch.tgt[i].B, maskBatch.tgt[i].K], 'int32');
});

// ---- per-block activations: wrap every Block.forward of the three networks
const recorded = { target: [], ctx: [], pred: [] };
const wrap = (blocks, list) => {
  for (const b of blocks) {
    const orig = b.forward;
    b.forward = function (x) {
      const y = orig.call(this, x);
      list.push({ data: y.toFloat32Array(), shape: y.shape });
      return y;
    };
  }
};
wrap(model.targetEncoder.blocks, recorded.target);
wrap(model.encoder.blocks, recorded.ctx);
wrap(model.predictor.blocks, recorded.pred);

// The full target features h (jepaForward keeps only the gathered targets): one extra no-grad pass.
noGrad(() =>
  tidy(() => {
    const x = Tensor.from(clips, xShape);
    const h = targetNorm(model.targetEncoder.forward(x));
    put('act.h', h.toFloat32Array(), h.shape);
  }),
);
recorded.target.length = 0; // the jepaForward pass below records them again (identical weights)

const t0 = performance.now();
let rec;
tidy(() => {
  const x = Tensor.from(clips, xShape);
  const pairs = maskBatch.ctx.map((c, i) => ({
    ctx: Tensor.from(c.data, [c.B, c.K], 'int32'),
    tgt: Tensor.from(maskBatch.tgt[i].data, [maskBatch.tgt[i].B, maskBatch.tgt[i].K], 'int32'),
  }));
  const f = jepaForward(model, x, pairs, cfg.loss.loss_exp, cfg.loss.reg_coeff);
  rec = { loss: f.loss.item(), lossJepa: f.lossJepa, lossReg: f.lossReg, targetRank: f.targetRank, contextRank: f.contextRank };
  f.preds.forEach((p, i) => put(`act.p_${i}`, p.toFloat32Array(), p.shape));
  backward(f.loss);
});
const ms = performance.now() - t0;

const M = cfg.mask.length;
const depth = model.encoder.blocks.length;
const pdepth = model.predictor.blocks.length;
if (recorded.target.length !== depth || recorded.ctx.length !== M * depth || recorded.pred.length !== M * pdepth)
  throw new Error(`recorded ${recorded.target.length}/${recorded.ctx.length}/${recorded.pred.length} block outputs`);
recorded.target.forEach((a, j) => put(`act.target.block${j}`, a.data, a.shape));
recorded.ctx.forEach((a, j) => put(`act.ctx${Math.floor(j / depth)}.block${j % depth}`, a.data, a.shape));
recorded.pred.forEach((a, j) => put(`act.pred${Math.floor(j / pdepth)}.block${j % pdepth}`, a.data, a.shape));

put('loss', Float32Array.of(rec.loss), [1]);
put('loss_jepa', Float32Array.of(rec.lossJepa), [1]);
put('loss_reg', Float32Array.of(rec.lossReg), [1]);
let nGrad = 0;
for (const [prefix, mod] of [['encoder', model.encoder], ['predictor', model.predictor]])
  for (const [k, t] of mod.trainableParameters()) {
    if (!t.grad) throw new Error(`${prefix}.${k} has no gradient`);
    put(`grad.${prefix}.${k}`, t.grad.toFloat32Array(), t.shape);
    nGrad++;
  }

const meta = {
  config: JSON.stringify({
    img_size: S,
    patch_size: cfg.data.patch_size,
    num_frames: T,
    tubelet_size: cfg.data.tubelet_size,
    embed_dim: model.encoder.cfg.embedDim,
    depth,
    num_heads: model.encoder.cfg.numHeads,
    mlp_ratio: model.encoder.cfg.mlpRatio,
    pred_embed_dim: cfg.model.pred_embed_dim,
    pred_depth: pdepth,
    uniform_power: cfg.model.uniform_power,
    num_mask_tokens: M,
    loss_exp: cfg.loss.loss_exp,
    reg_coeff: cfg.loss.reg_coeff,
    batch: B,
  }),
  source: `${args.config} meta.seed ${cfg.meta.seed}${args.checkpoint ? `; weights ${args.checkpoint}` : ''}; data ${args.data}${args.data === 'normal' ? ` seed ${args.seed}` : ''}; masks batch ${batchIndex}`,
  threads: String(native.numThreads()),
  ours: JSON.stringify({ ...rec, forward_backward_ms: ms }),
};
const outPath = resolve(root, args.out);
mkdirSync(dirname(outPath), { recursive: true });
writeSafetensors(outPath, out, meta);
console.log(
  `wrote ${outPath}: ${out.size} tensors (${nGrad} gradients); threads ${native.numThreads()}; ` +
    `masks ctx [${maskBatch.ctx.map((c) => c.K)}] tgt [${maskBatch.tgt.map((t) => t.K)}]; ` +
    `loss ${rec.loss.toFixed(6)} (jepa ${rec.lossJepa.toFixed(6)}, reg ${rec.lossReg.toFixed(6)}); ` +
    `rank tgt ${rec.targetRank.toFixed(1)} ctx ${rec.contextRank.toFixed(1)}; fwd+bwd ${ms.toFixed(0)} ms`,
);
model.dispose();
