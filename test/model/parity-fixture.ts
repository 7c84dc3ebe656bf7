// The PyTorch parity fixture (reference/make_parity_fixture.py) and the tiny V-JEPA it describes,
// shared by test/model/parity.test.ts and the GPU check test/gpu/step.mjs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../lib/io/safetensors.js';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { VJepa } from '../../lib/nn/vjepa.js';
import { loadStateDict, section } from '../../lib/nn/state.js';

export interface ParityFixture {
  tensors: Map<string, HostTensor>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  meta: any;
  /** the tensors under `prefix`, with the prefix cut off */
  sub(prefix: string): Map<string, HostTensor>;
  /** the fixture's initial model (target encoder = copy of the encoder), on the host */
  buildModel(): VJepa;
}

/** Reads vjepa_tiny.safetensors + vjepa_tiny.json from `dir` (test/fixtures/parity). */
export function loadParityFixture(dir: string): ParityFixture {
  const tensors = readSafetensors(join(dir, 'vjepa_tiny.safetensors')).tensors;
  const meta = JSON.parse(readFileSync(join(dir, 'vjepa_tiny.json'), 'utf8'));
  const sub = (prefix: string) => section(tensors, prefix);
  const buildModel = () => {
    const c = meta.config;
    const model = new VJepa({
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
    loadStateDict(model.encoder, sub('encoder.'), { what: 'fixture encoder' });
    loadStateDict(model.predictor, sub('predictor.'), { what: 'fixture predictor' });
    model.copyEncoderToTarget();
    return model;
  };
  return { tensors, meta, sub, buildModel };
}
