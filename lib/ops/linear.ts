// y = x Wᵀ + b over the last dim (nn.Linear, weight [out, in]); and the MLP's fused
// fc1 + GELU, whose GEMM epilogue applies the bias and GELU in one pass.
import { native } from '../native.js';
import { Tensor, shapeStr } from '../tensor.js';
import { leafGrad, needsGrad, record } from '../autograd.js';

function rows2d(x: Tensor, op: string, din: number): Tensor {
  if (x.shape[x.rank - 1] !== din)
    throw new Error(`${op}: input ${shapeStr(x.shape)} does not end in the weight's in_features ${din}`);
  return x.view([x.numel / din, din]);
}

/** Accumulates dW += dyᵀ x and db += Σ dy into the leaves (or returns temporaries). */
function weightGrads(x2: Tensor, dy2: Tensor, w: Tensor, b: Tensor | null): [Tensor | null, Tensor | null] {
  let gw: Tensor | null = null;
  let gb: Tensor | null = null;
  if (w.requiresGrad) {
    const into = leafGrad(w);
    const target = into ?? Tensor.zeros(w.shape, 'float32', w.device);
    native.gemm(dy2.handle, x2.handle, target.handle, true, false, 1, 1, null);
    gw = into ? null : target;
  }
  if (b && b.requiresGrad) {
    const into = leafGrad(b);
    const target = into ?? Tensor.zeros(b.shape, 'float32', b.device);
    native.sumRows(dy2.handle, target.handle, true);
    gb = into ? null : target;
  }
  return [gw, gb];
}

export function linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const [dout, din] = w.shape;
  const x2 = rows2d(x, 'linear', din);
  const outShape = [...x.shape.slice(0, -1), dout];
  const y = Tensor.empty(outShape, 'float32', x.device);
  const y2 = y.view([x2.shape[0], dout]);
  native.gemm(x2.handle, w.handle, y2.handle, false, true, 1, 0, b ? b.handle : null);
  y2.dispose();
  if (!needsGrad(x, w, b)) {
    x2.dispose();
    return y;
  }
  return record(y, 'linear', [x, w, b], [x2], (g) => {
    const g2 = g.view([x2.shape[0], dout]);
    let gx: Tensor | null = null;
    if (x.requiresGrad) {
      gx = Tensor.empty(x.shape, 'float32', x.device);
      const gx2 = gx.view([x2.shape[0], din]);
      native.gemm(g2.handle, w.handle, gx2.handle, false, false, 1, 0, null);
      gx2.dispose();
    }
    const [gw, gb] = weightGrads(x2, g2, w, b);
    g2.dispose();
    return [gx, gw, gb];
  });
}

/** gelu(x Wᵀ + b), keeping the pre-activation for backward. */
export function linearGelu(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const [dout, din] = w.shape;
  const x2 = rows2d(x, 'linearGelu', din);
  const outShape = [...x.shape.slice(0, -1), dout];
  const y = Tensor.empty(outShape, 'float32', x.device);
  const y2 = y.view([x2.shape[0], dout]);
  if (!needsGrad(x, w, b)) {
    // No backward: skip writing the pre-activation (a third of this op's memory traffic).
    native.gemmGelu(x2.handle, w.handle, y2.handle, null, true, b ? b.handle : null);
    y2.dispose();
    x2.dispose();
    return y;
  }
  const pre = Tensor.empty([x2.shape[0], dout], 'float32', x.device);
  native.gemmGelu(x2.handle, w.handle, y2.handle, pre.handle, true, b ? b.handle : null);
  y2.dispose();
  return record(y, 'linearGelu', [x, w, b], [x2, pre], (g) => {
    const dpre = Tensor.empty(pre.shape, 'float32', x.device);
    const g2 = g.view(pre.shape);
    native.geluBwd(pre.handle, g2.handle, dpre.handle);
    g2.dispose();
    let gx: Tensor | null = null;
    if (x.requiresGrad) {
      gx = Tensor.empty(x.shape, 'float32', x.device);
      const gx2 = gx.view([x2.shape[0], din]);
      native.gemm(dpre.handle, w.handle, gx2.handle, false, false, 1, 0, null);
      gx2.dispose();
    }
    const [gw, gb] = weightGrads(x2, dpre, w, b);
    dpre.dispose();
    return [gx, gw, gb];
  });
}
