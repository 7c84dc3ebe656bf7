// The frozen-eval head (MOD-13): learned queries cross-attend to the encoder's tokens,
// then a linear classifier. LayerNorm eps is the framework default 1e-5 here.
import { Tensor } from '../tensor.js';
import { native } from '../native.js';
import { repeatBatch } from '../ops/tokens.js';
import { reshape } from '../ops/elementwise.js';
import { Module } from './module.js';
import { Block, CrossAttentionBlock } from './block.js';
import { Linear } from './linear.js';
import { InitRng, truncNormal, uniformFanIn } from './init.js';
import { BlocksContainer } from './vit.js';

export class AttentivePooler extends Module {
  readonly queryTokens: Tensor;
  readonly crossBlock: CrossAttentionBlock;
  readonly blocks: Block[] = [];

  constructor(
    readonly dim: number,
    readonly heads: number,
    opts: { numQueries?: number; depth?: number; mlpRatio?: number },
    rng: InitRng,
  ) {
    super();
    const Q = opts.numQueries ?? 1;
    const depth = opts.depth ?? 1;
    const hidden = Math.floor(dim * (opts.mlpRatio ?? 4));
    this.queryTokens = this.param('query_tokens', truncNormal([1, Q, dim], 0.02, rng));
    this.crossBlock = this.child('cross_attention_block', new CrossAttentionBlock(dim, heads, hidden, 1e-5, rng));
    if (depth > 1) {
      const blocks = new BlocksContainer();
      for (let i = 0; i < depth - 1; i++) this.blocks.push(blocks.add(String(i), new Block(dim, heads, hidden, 1e-5, rng)));
      this.child('blocks', blocks);
    }
    // The depth rescale stays live only here (MOD-05/13): layer id 1 for the cross block.
    rescale(this.crossBlock.xattn.proj.weight, 1);
    rescale(this.crossBlock.mlp.fc2.weight, 1);
    this.blocks.forEach((b, i) => {
      rescale(b.attn.proj.weight, i + 2);
      rescale(b.mlp.fc2.weight, i + 2);
    });
  }

  forward(x: Tensor): Tensor {
    const B = x.shape[0];
    let q = repeatBatch(this.queryTokens, B);
    q = this.crossBlock.forward(q, x);
    for (const b of this.blocks) q = b.forward(q);
    return q;
  }
}

function rescale(w: Tensor, layerId: number): void {
  native.axpby(w.handle, null, w.handle, 1 / Math.sqrt(2 * layerId), 0);
}

export class AttentiveClassifier extends Module {
  readonly pooler: AttentivePooler;
  readonly linear: Linear;
  constructor(
    readonly dim: number,
    readonly heads: number,
    readonly numClasses: number,
    rng: InitRng,
    opts: { depth?: number } = {},
  ) {
    super();
    this.pooler = this.child('pooler', new AttentivePooler(dim, heads, { numQueries: 1, depth: opts.depth ?? 1 }, rng));
    this.linear = this.child('linear', new Linear(dim, numClasses, rng));
    // The head keeps PyTorch's default Linear init, not trunc-normal (§8.25).
    for (const [p, shape] of [[this.linear.weight, [numClasses, dim]], [this.linear.bias!, [numClasses]]] as const) {
      const init = uniformFanIn([...shape], dim, rng);
      p.write(init.toFloat32Array());
      init.dispose();
    }
  }

  /** x [B, N, D] -> logits [B, numClasses] */
  forward(x: Tensor): Tensor {
    const pooled = this.pooler.forward(x);
    return this.linear.forward(reshape(pooled, [x.shape[0], this.dim]));
  }
}
