// Token indexing (MASK-06 apply_masks and its backward), and the concat / slice /
// repeat along tokens or batch that the predictor and multi-clip batches need.
import { native } from '../native.js';
import { Tensor, shapeStr } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';

/** out[b,k] = x[b or 0, idx[b,k]]; idx is an int32 tensor [B,K]. */
export function gatherTokens(x: Tensor, idx: Tensor): Tensor {
  const [B, K] = idx.shape;
  const D = x.shape[2];
  const out = Tensor.empty([B, K, D], 'float32', x.device);
  native.gatherRows(x.handle, idx.handle, out.handle);
  if (!needsGrad(x)) return out;
  return record(out, 'gatherTokens', [x], [], (g) => {
    const gx = Tensor.zeros(x.shape, 'float32', x.device);
    native.scatterAddRows(g.handle, idx.handle, gx.handle);
    return [gx];
  });
}

function copyRange(src: Tensor, dst: Tensor, B: number, srcTok: number, srcStart: number, dstTok: number, dstStart: number, len: number, D: number, acc: boolean) {
  native.copyBlocks(src.handle, srcStart * D, dst.handle, dstStart * D, B, len * D, srcTok * D, dstTok * D, acc);
}

/** Concatenates [B,Ka,D] and [B,Kb,D] along tokens. */
export function concatTokens(a: Tensor, b: Tensor): Tensor {
  const [B, Ka, D] = a.shape;
  const Kb = b.shape[1];
  if (b.shape[0] !== B || b.shape[2] !== D)
    throw new Error(`concatTokens: ${shapeStr(a.shape)} and ${shapeStr(b.shape)} do not agree on batch and width`);
  const out = Tensor.empty([B, Ka + Kb, D], 'float32', a.device);
  copyRange(a, out, B, Ka, 0, Ka + Kb, 0, Ka, D, false);
  copyRange(b, out, B, Kb, 0, Ka + Kb, Ka, Kb, D, false);
  if (!needsGrad(a, b)) return out;
  return record(out, 'concatTokens', [a, b], [], (g) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      ga = Tensor.empty(a.shape, 'float32', a.device);
      copyRange(g, ga, B, Ka + Kb, 0, Ka, 0, Ka, D, false);
    }
    if (b.requiresGrad) {
      gb = Tensor.empty(b.shape, 'float32', b.device);
      copyRange(g, gb, B, Ka + Kb, Ka, Kb, 0, Kb, D, false);
    }
    return [ga, gb];
  });
}

/** x[:, start:start+len, :] as a new tensor. */
export function sliceTokens(x: Tensor, start: number, len: number): Tensor {
  const [B, K, D] = x.shape;
  if (start < 0 || start + len > K) throw new Error(`sliceTokens: [${start}, ${start + len}) outside ${K} tokens`);
  const out = Tensor.empty([B, len, D], 'float32', x.device);
  copyRange(x, out, B, K, start, len, 0, len, D, false);
  if (!needsGrad(x)) return out;
  return record(out, 'sliceTokens', [x], [], (g) => {
    const gx = Tensor.zeros(x.shape, 'float32', x.device);
    copyRange(g, gx, B, len, 0, K, start, len, D, false);
    return [gx];
  });
}

/** Stacks tensors along dim 0 (the multi-mask batch concat of MOD-08). */
export function concatBatch(xs: Tensor[]): Tensor {
  const rest = xs[0].shape.slice(1);
  for (const x of xs)
    if (shapeStr(x.shape.slice(1)) !== shapeStr(rest))
      throw new Error(`concatBatch: ${shapeStr(x.shape)} does not match ${shapeStr(xs[0].shape)} beyond dim 0`);
  const total = xs.reduce((s, x) => s + x.shape[0], 0);
  const out = Tensor.empty([total, ...rest], 'float32', xs[0].device);
  let off = 0;
  for (const x of xs) {
    native.copyBlocks(x.handle, 0, out.handle, off, 1, x.numel, 0, 0, false);
    off += x.numel;
  }
  if (!needsGrad(...xs)) return out;
  return record(out, 'concatBatch', xs, [], (g) => {
    let o = 0;
    return xs.map((x) => {
      const gx = x.requiresGrad ? Tensor.empty(x.shape, 'float32', x.device) : null;
      if (gx) native.copyBlocks(g.handle, o, gx.handle, 0, 1, x.numel, 0, 0, false);
      o += x.numel;
      return gx;
    });
  });
}

/** [B, ...] -> [r*B, ...]: r stacked copies (repeat_interleave_batch with exactly B rows). */
export function repeatBatch(x: Tensor, r: number): Tensor {
  if (r === 1) return x;
  const out = Tensor.empty([x.shape[0] * r, ...x.shape.slice(1)], 'float32', x.device);
  native.copyBlocks(x.handle, 0, out.handle, 0, r, x.numel, 0, x.numel, false);
  if (!needsGrad(x)) return out;
  return record(out, 'repeatBatch', [x], [], (g) => {
    const gx = Tensor.zeros(x.shape, 'float32', x.device);
    // One call per copy: blocks of one call run in parallel and must not share a destination.
    for (let i = 0; i < r; i++) native.copyBlocks(g.handle, i * x.numel, gx.handle, 0, 1, x.numel, 0, 0, true);
    return [gx];
  });
}
