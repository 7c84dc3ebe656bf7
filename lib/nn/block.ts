import { Tensor } from '../tensor.js';
import { add } from '../ops/elementwise.js';
import { releaseUngraphed } from '../autograd.js';
import { Module } from './module.js';
import { LayerNorm } from './layernorm.js';
import { Attention, CrossAttention } from './attention.js';
import { Mlp } from './mlp.js';
import { InitRng } from './init.js';

// The blocks' norms feed only GEMMs (qkv or kv, fc1): bf16 outputs under autocast('bfloat16').
const OPERAND = { productOperand: true } as const;

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
    // The residual adds happen in proj's and fc2's GEMMs (LinearOptions.residual).
    const h = consume(this.norm1.forward(x, OPERAND), (n) => this.attn.forward(n, x));
    const out = consume(this.norm2.forward(h, OPERAND), (n) => this.mlp.forward(n, h));
    releaseUngraphed(h, out);
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
    // No GEMM ends the cross-attention (its proj is not applied), so that residual is an add.
    const a = consume(this.norm1.forward(x, OPERAND), (n) => this.xattn.forward(q, n));
    const h = add(q, a);
    a.release();
    return consume(this.norm2.forward(h, OPERAND), (n) => this.mlp.forward(n, h));
  }
}

/** f(normed), releasing normed once consumed: the linear layers inside f saved their own views (or bf16 copies). */
function consume(normed: Tensor, f: (n: Tensor) => Tensor): Tensor {
  const out = f(normed);
  normed.release();
  return out;
}
