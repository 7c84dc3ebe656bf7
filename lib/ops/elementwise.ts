// Residual adds and broadcast adds (position tables, biases).
import { native } from '../native.js';
import { Tensor, shapeStr } from '../tensor.js';
import { leafGrad, needsGrad, record } from '../autograd.js';

export function add(a: Tensor, b: Tensor): Tensor {
  if (a.numel !== b.numel) throw new Error(`add: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ`);
  const out = Tensor.empty(a.shape, 'float32', a.device);
  native.axpby(a.handle, b.handle, out.handle, 1, 1);
  if (!needsGrad(a, b)) return out;
  // The gradient passes to both inputs: a takes a view of it (the engine frees only its own
  // handle), b a copy only when a holds the view, since either may be accumulated into in place.
  return record(out, 'add', [a, b], [], (g) => [
    a.requiresGrad ? g.view(a.shape) : null,
    b.requiresGrad ? (a.requiresGrad ? g.view(b.shape).clone() : g.view(b.shape)) : null,
  ]);
}

/** x + v where v's elements repeat over x's leading rows (x [..., *v.shape]). */
export function addBroadcast(x: Tensor, v: Tensor): Tensor {
  const out = Tensor.empty(x.shape, 'float32', x.device);
  native.addRowvec(x.handle, v.handle, out.handle);
  if (!needsGrad(x, v)) return out;
  return record(out, 'addBroadcast', [x, v], [], (g) => {
    let gv: Tensor | null = null;
    if (v.requiresGrad) {
      const into = leafGrad(v);
      const target = into ?? Tensor.zeros(v.shape, 'float32', v.device);
      native.sumRows(g.handle, target.handle, true);
      gv = into ? null : target;
    }
    return [x.requiresGrad ? g.view(x.shape) : null, gv];  // sumRows has read g already (stream order)
  });
}

export function scale(x: Tensor, s: number): Tensor {
  const out = Tensor.empty(x.shape, 'float32', x.device);
  native.axpby(x.handle, null, out.handle, s, 0);
  if (!needsGrad(x)) return out;
  return record(out, 'scale', [x], [], (g) => {
    const gx = Tensor.empty(x.shape, 'float32', x.device);
    native.axpby(g.handle, null, gx.handle, s, 0);
    return [gx];
  });
}

/** A differentiable view with another shape. */
export function reshape(x: Tensor, shape: number[]): Tensor {
  const out = x.view(shape);
  if (!needsGrad(x)) return out;
  // The view shares x's storage; a fresh node keeps x's own graph intact.
  return record(out, 'reshape', [x], [], (g) => [g.view(x.shape)]);
}
