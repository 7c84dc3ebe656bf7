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
    const X = x.view([N, D]);
    const G = Tensor.empty([D, D], 'float32', x.device);
    native.gemm(X.handle, X.handle, G.handle, true, false, 1 / N, 0, null);
    const s = Tensor.empty([D], 'float32', x.device);
    native.sumRows(X.handle, s.handle, false);
    const g = G.toFloat32Array();
    const mu = s.toFloat32Array();
    // float64 on the host: C = G/N − μμᵀ loses digits when the mean dominates
    let tr = 0;
    let fro = 0;
    for (let i = 0; i < D; i++) {
      const mi = mu[i] / N;
      for (let j = 0; j < D; j++) {
        const c = g[i * D + j] - mi * (mu[j] / N);
        fro += c * c;
        if (i === j) tr += c;
      }
    }
    return fro > 0 ? (tr * tr) / fro : 0;
  });
}
