// LayerNorm over the last dim; w and b null gives the parameter-free form used on targets.
import { native } from '../native.js';
import { Tensor, shapeStr } from '../tensor.js';
import { ACCUMULATED, leafGrad, needsGrad, record } from '../autograd.js';
import { matmulDtype } from './autocast.js';

/**
 * productOperand: the output only feeds a GEMM (the blocks' norms), so under
 * autocast('bfloat16') it is written in bf16, rounded once from the fp32 result. The backward
 * reads x, mean and rstd, never y, so nothing else changes.
 */
export function layerNorm(x: Tensor, w: Tensor | null, b: Tensor | null, eps: number, opts: { productOperand?: boolean } = {}): Tensor {
  const C = x.shape[x.rank - 1];
  const rows = x.numel / C;
  const bf16 = opts.productOperand && matmulDtype() === 'bfloat16';
  const y = Tensor.empty(x.shape, bf16 ? 'bfloat16' : 'float32', x.device);
  const mean = Tensor.empty([rows], 'float32', x.device);
  const rstd = Tensor.empty([rows], 'float32', x.device);
  native.layernormFwd(x.handle, w?.handle ?? null, b?.handle ?? null, y.handle, mean.handle, rstd.handle, eps);
  if (!needsGrad(x, w, b)) {
    mean.dispose();
    rstd.dispose();
    return y;
  }
  return record(y, 'layerNorm', [x, w, b], [mean, rstd], (g, pending) => {
    // In a pre-norm block x's gradient already holds the residual's share when this runs: dx is
    // added into it by the kernel, sparing the engine an add over the residual stream.
    const into = x.requiresGrad ? pending(0) : undefined;
    const inPlace = !!into && into.dtype === 'float32' && shapeStr(into.shape) === shapeStr(x.shape) &&
      !native.sharesStorage(into.handle, g.handle) && !native.sharesStorage(into.handle, x.handle);
    const dx = inPlace ? into : Tensor.empty(x.shape, 'float32', x.device);
    const dwLeaf = w && w.requiresGrad ? leafGrad(w) : null;
    const dbLeaf = b && b.requiresGrad ? leafGrad(b) : null;
    const dw = w && w.requiresGrad ? (dwLeaf ?? Tensor.zeros(w.shape, 'float32', x.device)) : null;
    const db = b && b.requiresGrad ? (dbLeaf ?? Tensor.zeros(b.shape, 'float32', x.device)) : null;
    native.layernormBwd(g.handle, x.handle, w?.handle ?? null, mean.handle, rstd.handle, dx.handle, dw?.handle ?? null, db?.handle ?? null, inPlace);
    return [inPlace ? ACCUMULATED : x.requiresGrad ? dx : (dx.dispose(), null), dwLeaf ? null : dw, dbLeaf ? null : db];
  });
}
