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
    const h = residual(x, this.norm1.forward(x, OPERAND), (n) => this.attn.forward(n));
    const out = residual(h, this.norm2.forward(h, OPERAND), (n) => this.mlp.forward(n));
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
    const h = residual(q, this.norm1.forward(x, OPERAND), (n) => this.xattn.forward(q, n));
    return residual(h, this.norm2.forward(h, OPERAND), (n) => this.mlp.forward(n));
  }
}

/**
 * x + f(normed). The normed input and f's output are released once consumed: the linear layers
 * inside f saved their own views (or bf16 copies) and the add saves nothing.
 */
function residual(x: Tensor, normed: Tensor, f: (n: Tensor) => Tensor): Tensor {
  const a = f(normed);
  normed.release();
  const h = add(x, a);
  a.release();
  return h;
}
