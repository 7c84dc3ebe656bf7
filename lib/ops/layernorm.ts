// LayerNorm over the last dim; w and b null gives the parameter-free form used on targets.
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { leafGrad, needsGrad, record } from '../autograd.js';

export function layerNorm(x: Tensor, w: Tensor | null, b: Tensor | null, eps: number): Tensor {
  const C = x.shape[x.rank - 1];
  const rows = x.numel / C;
  const y = Tensor.empty(x.shape, 'float32', x.device);
  const mean = Tensor.empty([rows], 'float32', x.device);
  const rstd = Tensor.empty([rows], 'float32', x.device);
  native.layernormFwd(x.handle, w?.handle ?? null, b?.handle ?? null, y.handle, mean.handle, rstd.handle, eps);
  if (!needsGrad(x, w, b)) {
    mean.dispose();
    rstd.dispose();
    return y;
  }
  return record(y, 'layerNorm', [x, w, b], [mean, rstd], (g) => {
    const dx = Tensor.empty(x.shape, 'float32', x.device);
    const dwLeaf = w && w.requiresGrad ? leafGrad(w) : null;
    const dbLeaf = b && b.requiresGrad ? leafGrad(b) : null;
    const dw = w && w.requiresGrad ? (dwLeaf ?? Tensor.zeros(w.shape, 'float32', x.device)) : null;
    const db = b && b.requiresGrad ? (dbLeaf ?? Tensor.zeros(b.shape, 'float32', x.device)) : null;
    native.layernormBwd(g.handle, x.handle, w?.handle ?? null, mean.handle, rstd.handle, dx.handle, dw?.handle ?? null, db?.handle ?? null);
    return [x.requiresGrad ? dx : (dx.dispose(), null), dwLeaf ? null : dw, dbLeaf ? null : db];
  });
}
