import { Tensor } from '../tensor.js';
import { add } from '../ops/elementwise.js';
import { Module } from './module.js';
import { LayerNorm } from './layernorm.js';
import { Attention, CrossAttention } from './attention.js';
import { Mlp } from './mlp.js';
import { InitRng } from './init.js';

/** Pre-norm transformer block (MOD-03): x += attn(ln1(x)); x += mlp(ln2(x)). */
export class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(dim: number, heads: number, mlpHidden: number, eps: number, rng: InitRng) {
    super();
    this.norm1 = this.child('norm1', new LayerNorm(dim, eps));
    this.attn = this.child('attn', new Attention(dim, heads, rng));
    this.norm2 = this.child('norm2', new LayerNorm(dim, eps));
    this.mlp = this.child('mlp', new Mlp(dim, mlpHidden, rng));
  }
  forward(x: Tensor): Tensor {
    const h = add(x, this.attn.forward(this.norm1.forward(x)));
    return add(h, this.mlp.forward(this.norm2.forward(h)));
  }
}

/** The pooler's block (MOD-13): q += xattn(q, ln1(x)); q += mlp(ln2(q)). Queries are not normed. */
export class CrossAttentionBlock extends Module {
  readonly norm1: LayerNorm;
  readonly xattn: CrossAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  constructor(dim: number, heads: number, mlpHidden: number, eps: number, rng: InitRng) {
    super();
    this.norm1 = this.child('norm1', new LayerNorm(dim, eps));
    this.xattn = this.child('xattn', new CrossAttention(dim, heads, rng));
    this.norm2 = this.child('norm2', new LayerNorm(dim, eps));
    this.mlp = this.child('mlp', new Mlp(dim, mlpHidden, rng));
  }
  forward(q: Tensor, x: Tensor): Tensor {
    const h = add(q, this.xattn.forward(q, this.norm1.forward(x)));
    return add(h, this.mlp.forward(this.norm2.forward(h)));
  }
}
