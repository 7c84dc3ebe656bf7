// The three networks of V-JEPA pretraining (TRAIN-03): the context encoder, the predictor,
// and the EMA target encoder, which starts as an exact copy of the context encoder.
import { native } from '../native.js';
import { assertWeightsMutable } from '../ops/autocast.js';
import { splitByDecay, type ParamGroup } from '../optim/adamw.js';
import { InitRng } from './init.js';
import { Predictor } from './predictor.js';
import { resolveVariant, type ModelOverrides } from './registry.js';
import { VisionTransformer } from './vit.js';

export interface VJepaModelConfig {
  modelName: string;
  overrides?: ModelOverrides;
  cropSize: number;
  patchSize: number;
  numFrames: number;
  tubeletSize: number;
  uniformPower: boolean;
  predEmbedDim: number;
  predDepth: number;
  numMaskTokens: number;
  zeroInitMaskTokens: boolean;
  seed: number;
  /** Leave the weights undrawn (InitRng.uninitialised): for a model a strict load fills at once. */
  uninitialised?: boolean;
}

export function buildEncoder(cfg: VJepaModelConfig, rng: InitRng): VisionTransformer {
  const v = resolveVariant(cfg.modelName, cfg.overrides);
  return new VisionTransformer(
    {
      imgSize: cfg.cropSize,
      patchSize: cfg.patchSize,
      numFrames: cfg.numFrames,
      tubeletSize: cfg.tubeletSize,
      embedDim: v.embedDim,
      depth: v.depth,
      numHeads: v.numHeads,
      mlpRatio: v.mlpRatio,
      uniformPower: cfg.uniformPower,
    },
    rng,
  );
}

export class VJepa {
  readonly encoder: VisionTransformer;
  readonly predictor: Predictor;
  readonly targetEncoder: VisionTransformer;

  constructor(readonly cfg: VJepaModelConfig) {
    const rng = cfg.uninitialised ? InitRng.uninitialised() : new InitRng(cfg.seed);
    this.encoder = buildEncoder(cfg, rng);
    const v = resolveVariant(cfg.modelName, cfg.overrides);
    this.predictor = new Predictor(
      {
        imgSize: cfg.cropSize,
        patchSize: cfg.patchSize,
        numFrames: cfg.numFrames,
        tubeletSize: cfg.tubeletSize,
        embedDim: v.embedDim,
        predictorEmbedDim: cfg.predEmbedDim,
        depth: cfg.predDepth,
        numHeads: v.numHeads,
        uniformPower: cfg.uniformPower,
        numMaskTokens: cfg.numMaskTokens,
        zeroInitMaskTokens: cfg.zeroInitMaskTokens,
      },
      rng,
    );
    this.targetEncoder = buildEncoder(cfg, InitRng.uninitialised());  // filled by the copy: no draws
    this.copyEncoderToTarget();
    this.targetEncoder.setTrainable(false);
  }

  copyEncoderToTarget(): void {
    const src = this.encoder.namedParameters();
    const dst = this.targetEncoder.namedParameters();
    for (let i = 0; i < src.length; i++) native.copy(src[i][1].tensor.handle, dst[i][1].tensor.handle);
  }

  /** TRAIN-04: weights with decay, then biases and 1-D params without, encoder before predictor. */
  paramGroups(): ParamGroup[] {
    const split = (m: VisionTransformer | Predictor) => {
      const [decay, noDecay] = splitByDecay(m.trainableParameters());
      return { decay, noDecay };
    };
    const e = split(this.encoder);
    const p = split(this.predictor);
    return [
      { name: 'encoder', params: e.decay.map(([n, t]) => [`encoder.${n}`, t]), wdExcluded: false },
      { name: 'predictor', params: p.decay.map(([n, t]) => [`predictor.${n}`, t]), wdExcluded: false },
      { name: 'encoder_no_wd', params: e.noDecay.map(([n, t]) => [`encoder.${n}`, t]), wdExcluded: true },
      { name: 'predictor_no_wd', params: p.noDecay.map(([n, t]) => [`predictor.${n}`, t]), wdExcluded: true },
    ];
  }

  /** TRAIN-07: θ_target ← m θ_target + (1 − m) θ_online over every encoder parameter. */
  emaUpdate(momentum: number): void {
    assertWeightsMutable('emaUpdate');
    const src = this.encoder.namedParameters();
    const dst = this.targetEncoder.namedParameters();
    const idx = src.flatMap((s, i) => (s[1].trainable ? [i] : []));
    native.emaMany(idx.map((i) => dst[i][1].tensor.handle), idx.map((i) => src[i][1].tensor.handle), momentum);
  }

  /** Moves all three networks to device (before the optimizer makes its state, which follows the parameters). */
  to(device: string): this {
    this.encoder.to(device);
    this.predictor.to(device);
    this.targetEncoder.to(device);
    return this;
  }

  zeroGrad(): void {
    this.encoder.zeroGrad();
    this.predictor.zeroGrad();
  }

  dispose(): void {
    this.encoder.dispose();
    this.predictor.dispose();
    this.targetEncoder.dispose();
  }
}
