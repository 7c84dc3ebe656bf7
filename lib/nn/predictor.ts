// The narrow predictor ViT (MOD-10/11): embed context features, add its own sincos
// table, append one learned mask token per target position, attend jointly, keep the
// target positions, project back to the encoder width.
import { Tensor, shapeStr } from '../tensor.js';
import { noGrad } from '../autograd.js';
import { add, addBroadcast } from '../ops/elementwise.js';
import { concatTokens, gatherTokens, sliceTokens } from '../ops/tokens.js';
import { Module } from './module.js';
import { Block } from './block.js';
import { LayerNorm } from './layernorm.js';
import { Linear } from './linear.js';
import { InitRng, truncNormal, zeros } from './init.js';
import { sincos2dTable, sincos3dTable } from './posemb.js';
import { BlocksContainer } from './vit.js';

export interface PredictorConfig {
  imgSize: number;
  patchSize: number;
  numFrames: number;
  tubeletSize: number;
  embedDim: number; // encoder width D
  predictorEmbedDim: number; // Dp
  depth: number;
  numHeads: number; // = the encoder's heads
  mlpRatio?: number;
  uniformPower: boolean;
  numMaskTokens: number;
  zeroInitMaskTokens: boolean;
  normEps?: number;
}

class MaskTokens extends Module {
  readonly tokens: Tensor[] = [];
  constructor(n: number, dim: number, zeroInit: boolean, rng: InitRng) {
    super();
    for (let i = 0; i < n; i++) this.tokens.push(this.param(String(i), zeroInit ? zeros([1, 1, dim]) : truncNormal([1, 1, dim], 0.02, rng)));
  }
}

export class Predictor extends Module {
  readonly cfg: PredictorConfig;
  readonly predictorEmbed: Linear;
  readonly maskTokens: MaskTokens;
  readonly posEmbed: Tensor;
  readonly blocks: Block[] = [];
  readonly norm: LayerNorm;
  readonly proj: Linear;

  constructor(cfg: PredictorConfig, rng: InitRng) {
    super();
    this.cfg = cfg;
    const Dp = cfg.predictorEmbedDim;
    const eps = cfg.normEps ?? 1e-6;
    const g = Math.floor(cfg.imgSize / cfg.patchSize);
    // The image model's predictor (num_frames 1, MOD-02) has the 2D table, as its encoder.
    const image = cfg.numFrames === 1;
    const T = image ? 1 : Math.floor(cfg.numFrames / cfg.tubeletSize);
    this.predictorEmbed = this.child('predictor_embed', new Linear(cfg.embedDim, Dp, rng));
    this.maskTokens = this.child('mask_tokens', new MaskTokens(cfg.numMaskTokens, Dp, cfg.zeroInitMaskTokens, rng));
    this.posEmbed = this.param('predictor_pos_embed', image ? sincos2dTable(g, g, Dp) : sincos3dTable(T, g, g, Dp, cfg.uniformPower), false);
    const blocks = new BlocksContainer();
    for (let i = 0; i < cfg.depth; i++)
      this.blocks.push(blocks.add(String(i), new Block(Dp, cfg.numHeads, Math.floor(Dp * (cfg.mlpRatio ?? 4)), eps, rng)));
    this.child('predictor_blocks', blocks);
    this.norm = this.child('predictor_norm', new LayerNorm(Dp, eps));
    this.proj = this.child('predictor_proj', new Linear(Dp, cfg.embedDim, rng));
  }

  /** z [B,Kc,D] context features at ctx [B,Kc]; predicts [B,Kt,D] at tgt [B,Kt]. */
  forward(z: Tensor, ctx: Tensor, tgt: Tensor, maskIndex: number): Tensor {
    if (z.shape[0] !== ctx.shape[0] || z.shape[1] !== ctx.shape[1])
      throw new Error(`Predictor: context ${shapeStr(z.shape)} does not match its indices ${shapeStr(ctx.shape)}`);
    const Kc = ctx.shape[1];
    const Kt = tgt.shape[1];
    const [posCtx, posTgt] = noGrad(() => [gatherTokens(this.posEmbed, ctx), gatherTokens(this.posEmbed, tgt)]);
    let x = add(this.predictorEmbed.forward(z), posCtx);
    const token = this.maskTokens.tokens[maskIndex % this.maskTokens.tokens.length];
    const queries = addBroadcast(posTgt, token);
    x = concatTokens(x, queries);
    for (const b of this.blocks) x = b.forward(x);
    // LayerNorm is per token, so keeping the targets first and norming after is the same.
    const targets = sliceTokens(x, Kc, Kt);
    // the norm feeds only proj's GEMM: a bf16 output under autocast, with no cast pass of its own,
    // and a bf16 gradient from it
    return this.proj.forward(this.norm.forward(targets, { productOperand: true }), { bf16InputGrad: true });
  }
}
