// The V-JEPA objective (TRAIN-08 d/e) and the probe's cross-entropy (EVAL-04).
// Scalars live in one-element CPU tensors; their gradient is read back as a number.
import { native } from '../native.js';
import { Tensor, shapeStr } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';

function scalar(v: number): Tensor {
  return Tensor.from(new Float32Array([v]), [1]);
}

function gradValue(g: Tensor): number {
  return g.device === 'cpu' ? g.toFloat32Array()[0] : g.to('cpu').toFloat32Array()[0];
}

/** mean(|pred - target|^e) / e; the target gets no gradient. */
export function predictionLoss(pred: Tensor, target: Tensor, lossExp: number): Tensor {
  if (shapeStr(pred.shape) !== shapeStr(target.shape))
    throw new Error(`predictionLoss: prediction ${shapeStr(pred.shape)} and target ${shapeStr(target.shape)} differ`);
  const out = scalar(native.lossFwd(pred.handle, target.handle, lossExp));
  if (!needsGrad(pred)) return out;
  return record(out, 'predictionLoss', [pred], [], (g) => {
    const dp = Tensor.empty(pred.shape, 'float32', pred.device);
    native.lossBwd(pred.handle, target.handle, dp.handle, lossExp, gradValue(g));
    return [dp];
  });
}

/**
 * The variance hinge: σ_i = sqrt(Var_tokens(z_i) + 1e-4) (unbiased), σ̄ = mean_i σ_i,
 * L = mean(relu(1 - σ̄)) over batch × features. Every z_i is [B, K_i, D].
 */
export function varianceHinge(zs: Tensor[]): Tensor {
  const [B, , D] = zs[0].shape;
  const M = zs.length;
  const stds = zs.map((z) => {
    const s = Tensor.empty([B, D], 'float32', z.device);
    native.tokenStdFwd(z.handle, s.handle, 1e-4);
    return s;
  });
  const host = stds.map((s) => (s.device === 'cpu' ? s.toFloat32Array() : s.to('cpu').toFloat32Array()));
  const mean = new Float64Array(B * D);
  for (const h of host) for (let i = 0; i < mean.length; i++) mean[i] += h[i] / M;
  let loss = 0;
  for (let i = 0; i < mean.length; i++) loss += Math.max(0, 1 - mean[i]);
  loss /= mean.length;
  const out = scalar(loss);
  if (!needsGrad(...zs)) {
    for (const s of stds) s.dispose();
    return out;
  }
  return record(out, 'varianceHinge', zs, stds, (g) => {
    const gv = gradValue(g);
    const gstdHost = new Float32Array(B * D);
    for (let i = 0; i < mean.length; i++) gstdHost[i] = mean[i] < 1 ? (-gv / mean.length) / M : 0;
    return zs.map((z, i) => {
      if (!z.requiresGrad) return null;
      const gstd = Tensor.from(gstdHost, [B, D], 'float32', z.device);
      const dz = Tensor.zeros(z.shape, 'float32', z.device);
      native.tokenStdBwd(z.handle, stds[i].handle, gstd.handle, dz.handle);
      gstd.dispose();
      return dz;
    });
  });
}

/** Sum of scalar tensors with weights: Σ w_i s_i. */
export function weightedSum(terms: Tensor[], weights: number[]): Tensor {
  let v = 0;
  const vals = terms.map((t) => t.toFloat32Array()[0]);
  for (let i = 0; i < terms.length; i++) v += weights[i] * vals[i];
  const out = scalar(v);
  if (!needsGrad(...terms)) return out;
  return record(out, 'weightedSum', terms, [], (g) => {
    const gv = gradValue(g);
    return terms.map((t, i) => (t.requiresGrad ? scalar(gv * weights[i]) : null));
  });
}

/** Mean softmax cross-entropy of logits [R, C] against int32 labels [R]. */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  const out = scalar(native.crossEntropy(logits.handle, labels.handle, null, 1));
  if (!needsGrad(logits)) return out;
  return record(out, 'crossEntropy', [logits], [], (g) => {
    const d = Tensor.empty(logits.shape, 'float32', logits.device);
    native.crossEntropy(logits.handle, labels.handle, d.handle, gradValue(g));
    return [d];
  });
}
