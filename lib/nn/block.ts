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
  // Intermediates are released as soon as their consumers ran: linear saves its own operand
  // (a view, or the bf16 copy under autocast) and add saves nothing, so their data is not needed.
  forward(x: Tensor): Tensor {
    const n1 = this.norm1.forward(x);
    const a = this.attn.forward(n1);
    n1.release();
    const h = add(x, a);
    a.release();
    const n2 = this.norm2.forward(h);
    const m = this.mlp.forward(n2);
    n2.release();
    const out = add(h, m);
    m.release();
    return out;
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
    const n1 = this.norm1.forward(x);
    const a = this.xattn.forward(q, n1);
    n1.release();
    const h = add(q, a);
    a.release();
    const n2 = this.norm2.forward(h);
    const m = this.mlp.forward(n2);
    n2.release();
    const out = add(h, m);
    m.release();
    return out;
  }
}
