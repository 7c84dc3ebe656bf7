// y = x Wᵀ + b over the last dim (nn.Linear, weight [out, in]); and the MLP's fused
// fc1 + GELU, whose GEMM epilogue applies the bias and GELU in one pass. Under
// autocast('bfloat16') the GEMM operands are bf16 (ops/autocast.ts), and so are outputs that
// only feed other bf16 products; those see the bias in bf16 and fc1's GELU reads its rounded
// pre-activation, as under torch.autocast.
import { native } from '../native.js';
import { Tensor, shapeStr } from '../tensor.js';
import { leafGrad, needsGrad, record } from '../autograd.js';
import { bf16Weight, gemmOperands, matmulDtype } from './autocast.js';

/**
 * The bias handle for a GEMM with a bf16 output: the region's bf16 copy (the GEMM would round an
 * fp32 bias anyway, and cuBLASLt takes only a bf16 one there); else b itself. Calls fn with it.
 */
function withBias(b: Tensor | null, bf16Out: boolean, fn: (bias: Tensor | null) => void): void {
  const bias = b && bf16Out ? bf16Weight(b) : b;
  try {
    fn(bias);
  } finally {
    if (bias && bias !== b) bias.dispose();
  }
}

function rows2d(x: Tensor, op: string, din: number): Tensor {
  if (x.shape[x.rank - 1] !== din)
    throw new Error(`${op}: input ${shapeStr(x.shape)} does not end in the weight's in_features ${din}`);
  return x.view([x.numel / din, din]);
}

/**
 * Accumulates into p's gradient: add(target) adds to the leaf's own buffer, or to a zeroed
 * temporary that is returned (null when p needs none, or when the leaf took it).
 */
export function paramGrad(p: Tensor | null, add: (target: Tensor) => void): Tensor | null {
  if (!p || !p.requiresGrad) return null;
  const into = leafGrad(p);
  const target = into ?? Tensor.zeros(p.shape, 'float32', p.device);
  add(target);
  return into ? null : target;
}

/** dW += dyᵀ x, from the GEMM operands xa and dya (bf16 under autocast). */
function weightGrad(xa: Tensor, dya: Tensor, w: Tensor): Tensor | null {
  return paramGrad(w, (t) => native.gemm(dya.handle, xa.handle, t.handle, true, false, 1, 1, null));
}

/**
 * A GEMM layer's output gradient dy (fp32, [rows, out]): the bias gradient db += Σ dy, and, when
 * `operand`, dy as the operand of the backward GEMMs (null otherwise; dy itself in fp32, a bf16
 * rounding the caller owns under autocast). Under bf16 one pass sums dy and rounds it (sumRows'
 * xb), where a cast and a sum would read it twice.
 */
export function outputGrad(dy: Tensor, b: Tensor | null, bf16: boolean, operand: boolean): { dya: Tensor | null; gb: Tensor | null } {
  const dya = !operand ? null : bf16 ? Tensor.empty(dy.shape, 'bfloat16', dy.device) : dy;
  const round = dya && dya !== dy ? dya : null;
  const gb = paramGrad(b, (t) => native.sumRows(dy.handle, t.handle, true, round?.handle ?? null));
  if (round && !(b && b.requiresGrad)) native.cast(dy.handle, round.handle);
  return { dya, gb };
}

/** gx = dy W (operands of the forward's precision; gx in fp32, or bf16 with bf16Grad), or null when x needs no gradient. */
function inputGrad(x: Tensor, dya: Tensor, wa: Tensor, din: number, bf16Grad = false): Tensor | null {
  if (!x.requiresGrad) return null;
  const gx = Tensor.empty(x.shape, bf16Grad ? 'bfloat16' : 'float32', x.device);
  const gx2 = gx.view([dya.shape[0], din]);
  native.gemm(dya.handle, wa.handle, gx2.handle, false, false, 1, 0, null);
  gx2.dispose();
  return gx;
}

export interface LinearOptions {
  /**
   * The output only feeds bf16 products (attention, another GEMM): under autocast('bfloat16') it
   * is rounded to bf16 by the GEMM's epilogue instead of being stored in fp32. No effect in fp32.
   */
  productOperand?: boolean;
  /**
   * y = x Wᵀ + b + residual (fp32, y's shape): a block's residual add done by the GEMM, which on
   * CUDA reads it as cuBLASLt's C (no pass of its own; elsewhere it is copied into y first). Its
   * gradient is y's. Not with productOperand: the residual stream stays fp32.
   */
  residual?: Tensor;
  /**
   * x is a bf16 activation whose producer takes a bf16 gradient and that feeds nothing else
   * (linearGelu's output, a norm's productOperand output): under autocast('bfloat16') x's gradient
   * is written in bf16, as torch.autocast's is, halving its traffic. No effect in fp32 or on an
   * fp32 x.
   */
  bf16InputGrad?: boolean;
}

/** Whether x's gradient is written in bf16 (LinearOptions.bf16InputGrad). */
function bf16Grad(x: Tensor, bf16: boolean, opts: { bf16InputGrad?: boolean }): boolean {
  return bf16 && !!opts.bf16InputGrad && x.dtype === 'bfloat16';
}

export function linear(x: Tensor, w: Tensor, b: Tensor | null, opts: LinearOptions = {}): Tensor {
  const [dout, din] = w.shape;
  const bf16 = matmulDtype() === 'bfloat16';
  const r = opts.residual ?? null;
  if (r && opts.productOperand) throw new Error('linear: a residual output is fp32, not a bf16 product operand');
  const outShape = [...x.shape.slice(0, -1), dout];
  if (r && shapeStr(r.shape) !== shapeStr(outShape))
    throw new Error(`linear: residual ${shapeStr(r.shape)} is not the output's shape ${shapeStr(outShape)}`);
  const op = gemmOperands(rows2d(x, 'linear', din), w, w.shape);
  const rows = op.x.shape[0];
  const outBf16 = bf16 && !!opts.productOperand;
  const y = Tensor.empty(outShape, outBf16 ? 'bfloat16' : 'float32', x.device);
  const y2 = y.view([rows, dout]);
  const r2 = r ? r.view([rows, dout]) : null;
  withBias(b, outBf16, (bias) =>
    native.gemm(op.x.handle, op.w.handle, y2.handle, false, true, 1, 0, bias ? bias.handle : null, r2 ? r2.handle : null));
  y2.dispose();
  r2?.dispose();
  if (!needsGrad(x, w, b, r)) {
    op.x.dispose();
    op.w.dispose();
    return y;
  }
  return record(y, 'linear', [x, w, b, r], [op.x, op.w], (g) => {
    const g2 = g.view([rows, dout]);
    const { dya: ga, gb } = outputGrad(g2, b, bf16, x.requiresGrad || w.requiresGrad);
    const gx = ga && inputGrad(x, ga, op.w, din, bf16Grad(x, bf16, opts));
    const gw = ga && weightGrad(op.x, ga, w);
    if (ga !== g2) ga?.dispose();
    g2.dispose();
    // The residual's gradient is y's own: a view (the engine frees only its handle; the reads of
    // g above are ordered before any in-place accumulation into it).
    return [gx, gw, gb, r && r.requiresGrad ? g.view(r.shape) : null];
  });
}

/**
 * gelu(x Wᵀ + b), keeping the pre-activation for backward. Under autocast('bfloat16') the output
 * and the saved pre-activation are bf16 (the output only feeds fc2's GEMM, which would round it
 * anyway): the bias is added in bf16 and the GELU, computed in fp32, reads the rounded
 * pre-activation, as under torch.autocast; on CUDA cuBLASLt writes it, bias included.
 */
export function linearGelu(x: Tensor, w: Tensor, b: Tensor | null, opts: Pick<LinearOptions, 'bf16InputGrad'> = {}): Tensor {
  const [dout, din] = w.shape;
  const bf16 = matmulDtype() === 'bfloat16';
  const dtype = bf16 ? 'bfloat16' : 'float32';
  const op = gemmOperands(rows2d(x, 'linearGelu', din), w, w.shape);
  const rows = op.x.shape[0];
  const y = Tensor.empty([...x.shape.slice(0, -1), dout], dtype, x.device);
  const y2 = y.view([rows, dout]);
  if (!needsGrad(x, w, b)) {
    // No backward: skip writing the pre-activation (a third of this op's memory traffic).
    withBias(b, bf16, (bias) => native.gemmGelu(op.x.handle, op.w.handle, y2.handle, null, true, bias ? bias.handle : null));
    y2.dispose();
    op.x.dispose();
    op.w.dispose();
    return y;
  }
  const pre = Tensor.empty([rows, dout], dtype, x.device);
  withBias(b, bf16, (bias) => native.gemmGelu(op.x.handle, op.w.handle, y2.handle, pre.handle, true, bias ? bias.handle : null));
  y2.dispose();
  return record(y, 'linearGelu', [x, w, b], [op.x, op.w, pre], (g) => {
    const g2 = g.view(pre.shape);
    let da: Tensor, gb: Tensor | null;
    if (bf16) {
      // One pass reads the bf16 pre-activation and g (fp32, or bf16 from fc2's bf16InputGrad) and
      // writes the gradient in bf16 (the GEMM operand), summing its fp32 values into the bias
      // gradient: the fp32 gradient is never stored.
      da = Tensor.empty(pre.shape, 'bfloat16', x.device);
      gb = paramGrad(b, (t) => native.geluBwd(pre.handle, g2.handle, null, da.handle, t.handle, true));
      if (!(b && b.requiresGrad)) native.geluBwd(pre.handle, g2.handle, null, da.handle);
    } else {
      da = Tensor.empty(pre.shape, 'float32', x.device);
      native.geluBwd(pre.handle, g2.handle, da.handle);
      gb = paramGrad(b, (t) => native.sumRows(da.handle, t.handle, true));
    }
    g2.dispose();
    const gx = inputGrad(x, da, op.w, din, bf16Grad(x, bf16, opts));
    const gw = weightGrad(op.x, da, w);
    da.dispose();
    return [gx, gw, gb];
  });
}
