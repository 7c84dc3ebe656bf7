import { Tensor } from '../tensor.js';
import { crossAttention, selfAttention } from '../ops/attention.js';
import { Module } from './module.js';
import { releaseUngraphed } from '../autograd.js';
import { Linear } from './linear.js';
import { InitRng } from './init.js';
import { toFloat32 } from '../ops/autocast.js';

const OPERAND = { productOperand: true } as const;
// x is the block's norm output, which feeds this GEMM alone: under bf16 its gradient is written in
// bf16 for the norm's backward to read (as torch.autocast's is).
const NORMED_OPERAND = { productOperand: true, bf16InputGrad: true } as const;

/** Self-attention with a fused qkv projection (MOD-03); the scale is always 1/√head_dim. */
export class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  constructor(
    readonly dim: number,
    readonly heads: number,
    rng: InitRng,
  ) {
    super();
    if (dim % heads) throw new Error(`Attention: dim ${dim} is not divisible by ${heads} heads`);
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, rng));
    this.proj = this.child('proj', new Linear(dim, dim, rng));
  }
  /** proj(attention(x)), plus residual when given (added by proj's GEMM: the block's x + attn(...)). */
  forward(x: Tensor, residual?: Tensor): Tensor {
    // qkv stays while a graph holds it: the attention backward reads it. Its output is saved by
    // attention and proj. Under bf16 both are bf16: attention rounds its operands anyway, proj its input.
    const qkv = this.qkv.forward(x, NORMED_OPERAND);
    const o = selfAttention(qkv, this.heads);
    releaseUngraphed(qkv, o);
    const out = this.proj.forward(o, residual ? { residual } : undefined);
    o.release();
    return out;
  }
}

/**
 * The pooler's cross-attention: q from the queries, fused k|v from the tokens (MOD-13). The original
 * never applies its output projection `proj` (a commit that did was reverted because it broke the
 * released probes), so neither do we: `proj` stays in the state dict for its layout, gets no gradient
 * and never changes.
 */
export class CrossAttention extends Module {
  readonly q: Linear;
  readonly kv: Linear;
  readonly proj: Linear;
  constructor(
    readonly dim: number,
    readonly heads: number,
    rng: InitRng,
  ) {
    super();
    if (dim % heads) throw new Error(`CrossAttention: dim ${dim} is not divisible by ${heads} heads`);
    this.q = this.child('q', new Linear(dim, dim, rng));
    this.kv = this.child('kv', new Linear(dim, 2 * dim, rng));
    this.proj = this.child('proj', new Linear(dim, dim, rng));
  }
  forward(queries: Tensor, x: Tensor): Tensor {
    const o = crossAttention(this.q.forward(queries, OPERAND), this.kv.forward(x, NORMED_OPERAND), this.heads);
    if (o.dtype === 'float32') return o;
    // Under bf16 the heads come out bf16; the residual stream they join is fp32.
    const out = toFloat32(o);
    o.release();
    return out;
  }
}
