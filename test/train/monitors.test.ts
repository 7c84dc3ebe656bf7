import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor } from '../../lib/tensor.js';
import { effectiveRank } from '../../lib/train/monitors.js';
import { Rng } from '../../lib/data/rng.js';

/** float64 reference: eigenvalues are not needed, tr(C)² / ‖C‖²_F straight from the rows */
function refRank(x: Float64Array, N: number, D: number): number {
  const mu = new Float64Array(D);
  for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) mu[d] += x[n * D + d] / N;
  let tr = 0, fro = 0;
  for (let i = 0; i < D; i++)
    for (let j = 0; j < D; j++) {
      let c = 0;
      for (let n = 0; n < N; n++) c += (x[n * D + i] - mu[i]) * (x[n * D + j] - mu[j]);
      c /= N;
      fro += c * c;
      if (i === j) tr += c;
    }
  return (tr * tr) / fro;
}

test('effectiveRank: matches float64 on awkward shapes, also when the mean dominates; k orthogonal equal directions give k', () => {
  const rng = new Rng(3);
  for (const [B, N, D, offset] of [[3, 37, 19, 5], [1, 130, 64, 5], [2, 5, 33, 5], [4, 200, 16, 100]]) {
    const x = new Float32Array(B * N * D);
    // anisotropic: feature d scaled by 1/(1+d) plus a large shared offset (the mean must not count;
    // the uncentred Gram, C = G/N - μμᵀ, was 1.3e-2 off at offset 100)
    for (let i = 0; i < x.length; i++) x[i] = rng.normal() / (1 + (i % D)) + offset;
    const t = Tensor.from(x, [B, N, D]);
    const got = effectiveRank(t);
    const want = refRank(Float64Array.from(x), B * N, D);
    assert.ok(Math.abs(got - want) / want < 1e-5, `[${B},${N},${D}] offset ${offset}: ${got} vs ${want}`);
    t.dispose();
  }
  // rows ±e_0, ±e_1, ±e_2 (balanced): covariance = diag(1/3,1/3,1/3,0,..) → exactly 3
  const D = 16;
  const rows: number[] = [];
  for (const k of [0, 1, 2]) for (const s of [1, -1]) for (let d = 0; d < D; d++) rows.push(d === k ? s : 0);
  const t = Tensor.from(Float32Array.from(rows), [6, D]);
  assert.ok(Math.abs(effectiveRank(t) - 3) < 1e-5);
  t.dispose();
});

test.run();
