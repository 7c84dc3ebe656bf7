// What the ViT-L step scripts (step_bench, profile_step, vitl_memory, launches) share: the library
// modules they run a step with, the step's settings, a clip batch, and a mask sample as tensors.

/** The compiled library's modules for one pretraining step; lib is dist.mjs's loader. */
export async function stepModules(lib) {
  return {
    ...(await lib('native.js')),
    ...(await lib('tensor.js')),
    ...(await lib('optim/adamw.js')),
    ...(await lib('train/iteration.js')),
    ...(await lib('train/pretrain.js')),
    ...(await lib('config/index.js')),
    ...(await lib('util/rng.js')),
    ...(await lib('ops/autocast.js')),
  };
}

/**
 * bf16 pretraining step settings (the step bench's and the profile's), with a weight plan of
 * their own as the trainer keeps one (CastPlan: ops/autocast.js's class, passed in): use one
 * settings object per model.
 */
export function stepSettings(CastPlan) {
  return { lossExp: 1, regCoeff: 0, lr: 1e-4, wd: 0.04, momentum: 0.999, clipGrad: 10, matmulDtype: 'bfloat16', castPlan: new CastPlan() };
}

/** Standard-normal clips of `shape` on `device` from Rng(1) (lib/util/rng.js's class, passed in). */
export function clipBatch(Tensor, Rng, shape, device) {
  const rng = new Rng(1);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return Tensor.from(data, shape, 'float32', device);
}

/** The first B rows of a collator sample's masks, as int32 tensors on `device`. */
export function maskTensors(Tensor, sample, B, device) {
  const rows = (m) => Tensor.from(m.data.slice(0, B * m.K), [B, m.K], 'int32', device);
  return sample.ctx.map((c, i) => ({ ctx: rows(c), tgt: rows(sample.tgt[i]) }));
}

export function disposeMasks(masks) {
  for (const m of masks) {
    m.ctx.dispose();
    m.tgt.dispose();
  }
}
