// Collapse monitors. A per-feature std (meanColStd) misses dimensional collapse: features can
// keep their spread while all of it lies in a handful of directions. The participation ratio
// of the feature covariance, (Σλ)² / Σλ² = tr(C)² / ‖C‖²_F, counts those directions (1 = one
// direction, D = isotropic) from a single D×D Gram matrix, no eigensolver.
import { Tensor, tidy } from '../tensor.js';
import { native } from '../native.js';

/** Participation ratio of the covariance of the rows of x [..., D] (float32, any device). */
export function effectiveRank(x: Tensor): number {
  const D = x.shape[x.shape.length - 1];
  const N = x.numel / D;
  if (N < 2) return NaN;
  return tidy(() => {
    // Centring the rows first keeps the Gram free of cancellation when the mean dominates, and
    // leaves only two scalars to read: reading C back and looping over its D² entries on the host
    // idled a GPU for milliseconds per call.
    const X = x.view([N, D]);
    const negMean = Tensor.empty([D], 'float32', x.device);
    native.sumRows(X.handle, negMean.handle, false);
    native.axpby(negMean.handle, null, negMean.handle, -1 / N, 0);
    const Xc = Tensor.empty([N, D], 'float32', x.device);
    native.addRowvec(X.handle, negMean.handle, Xc.handle);
    const C = Tensor.empty([D, D], 'float32', x.device);
    native.gemm(Xc.handle, Xc.handle, C.handle, true, false, 1 / N, 0, null);
    const tr = native.sumSquares(Xc.handle) / N;
    const fro = native.sumSquares(C.handle);
    return fro > 0 ? (tr * tr) / fro : 0;
  });
}
