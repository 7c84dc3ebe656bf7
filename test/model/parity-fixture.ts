// The PyTorch parity fixture (reference/make_parity_fixture.py) and the tiny V-JEPA it describes,
// shared by test/model/parity.test.ts and the GPU check test/gpu/step.mjs.
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../lib/io/safetensors.js';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { VJepa } from '../../lib/nn/vjepa.js';
import { loadStateDict, section } from '../../lib/nn/state.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { backward, noGrad } from '../../lib/autograd.js';
import { targetNorm } from '../../lib/nn/vit.js';
import { jepaForward, type MaskPair } from '../../lib/train/iteration.js';
import { assertClose } from '../helpers/compare.js';

export interface ParityFixture {
  tensors: Map<string, HostTensor>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  meta: any;
  /** the tensors under `prefix`, with the prefix cut off */
  sub(prefix: string): Map<string, HostTensor>;
  /** the fixture's initial model (target encoder = copy of the encoder), on the host */
  buildModel(): VJepa;
}

/** The fixture's tiny V-JEPA with fresh weights (load them after). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function tinyModel(c: any): VJepa {
  return new VJepa({
    modelName: 'vit_tiny',
    overrides: { embed_dim: c.embed_dim, depth: c.depth, num_heads: c.num_heads, mlp_ratio: c.mlp_ratio },
    cropSize: c.img_size,
    patchSize: c.patch_size,
    numFrames: c.num_frames,
    tubeletSize: c.tubelet_size,
    uniformPower: c.uniform_power,
    predEmbedDim: c.pred_embed_dim,
    predDepth: c.pred_depth,
    numMaskTokens: c.num_mask_tokens,
    zeroInitMaskTokens: true,
    seed: 0,
  });
}

/** The clip `x` and the mask pairs `mask.ctx_<i>` / `mask.tgt_<i>` of a debug-state file. */
export function stepInputs(st: Map<string, HostTensor>, nMasks: number): { x: Tensor; masks: MaskPair[] } {
  const get = (k: string): HostTensor => {
    const t = st.get(k);
    if (!t) throw new Error(`fixture has no ${k}`);
    return t;
  };
  const x = Tensor.from(get('x').data as Float32Array, get('x').shape);
  const masks = Array.from({ length: nMasks }, (_, i) => ({
    ctx: Tensor.from(get(`mask.ctx_${i}`).data as Int32Array, get(`mask.ctx_${i}`).shape, 'int32'),
    tgt: Tensor.from(get(`mask.tgt_${i}`).data as Int32Array, get(`mask.tgt_${i}`).shape, 'int32'),
  }));
  return { x, masks };
}

/**
 * Step 0 of a debug-state file against `model`: the normalized target `step0.h`, the context features
 * `step0.z_<i>`, the predictions `step0.p_<i>`, the three losses, and the gradient `grad.<encoder|predictor>.<name>`
 * of every trainable parameter. Returns the number of gradients checked.
 */
export function assertStep0(model: VJepa, st: Map<string, HostTensor>, nMasks: number, lossExp: number, regCoeff: number): number {
  const f32 = (k: string): Float32Array => {
    const t = st.get(k);
    if (!t) throw new Error(`fixture has no ${k}`);
    return t.data as Float32Array;
  };
  let checked = 0;
  tidy(() => {
    const { x, masks } = stepInputs(st, nMasks);
    const h = noGrad(() => targetNorm(model.targetEncoder.forward(x)));
    assertClose(h.toFloat32Array(), f32('step0.h'), 1e-4, 'h');
    for (let i = 0; i < nMasks; i++) {
      const z = noGrad(() => model.encoder.forward(x, masks[i].ctx));
      assertClose(z.toFloat32Array(), f32(`step0.z_${i}`), 1e-4, `z_${i}`);
    }
    const out = jepaForward(model, x, masks, lossExp, regCoeff);
    for (let i = 0; i < nMasks; i++) assertClose(out.preds[i].toFloat32Array(), f32(`step0.p_${i}`), 1e-4, `p_${i}`);
    assertClose([out.lossJepa], f32('step0.loss_jepa'), 1e-5, 'loss_jepa');
    assertClose([out.lossReg], f32('step0.loss_reg'), 1e-5, 'loss_reg');
    assertClose([out.loss.item()], f32('step0.loss'), 1e-5, 'loss');
    backward(out.loss);
    for (const [prefix, m] of [['encoder', model.encoder], ['predictor', model.predictor]] as const) {
      for (const [name, t] of m.trainableParameters()) {
        assert.ok(t.grad, `${prefix}.${name} has no gradient`);
        assertClose(t.grad!.toFloat32Array(), f32(`grad.${prefix}.${name}`), 1e-3, `grad ${prefix}.${name}`);
        checked++;
      }
    }
  });
  return checked;
}

/** Reads vjepa_tiny.safetensors + vjepa_tiny.json from `dir` (test/fixtures/parity). */
export function loadParityFixture(dir: string): ParityFixture {
  const tensors = readSafetensors(join(dir, 'vjepa_tiny.safetensors')).tensors;
  const meta = JSON.parse(readFileSync(join(dir, 'vjepa_tiny.json'), 'utf8'));
  const sub = (prefix: string) => section(tensors, prefix);
  const buildModel = () => {
    const model = tinyModel(meta.config);
    loadStateDict(model.encoder, sub('encoder.'), { what: 'fixture encoder' });
    loadStateDict(model.predictor, sub('predictor.'), { what: 'fixture predictor' });
    model.copyEncoderToTarget();
    return model;
  };
  return { tensors, meta, sub, buildModel };
}
