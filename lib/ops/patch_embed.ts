// Tubelet patch embedding (MOD-01): Conv3d with kernel == stride, computed as unfold +
// GEMM, unfolding only the kept tokens when an index is given (identical result, MOD-09).
// Under autocast('bfloat16') the unfolded patches and the weight enter the GEMM as bf16.
import { native } from '../native.js';
import { Tensor, shapeStr } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';
import { gemmOperands, matmulDtype } from './autocast.js';
import { outputGrad, paramGrad } from './linear.js';

/**
 * video [B,3,T,H,W] -> tokens [B,K,D]; w [D,3,t,p,p], or the image model's [D,3,p,p] (MOD-02: every
 * frame its own image, a tubelet of 1); b [D]; idx int32 [B,K] or null.
 */
export function patchEmbed3d(video: Tensor, idx: Tensor | null, w: Tensor, b: Tensor): Tensor {
  if (w.rank !== 5 && w.rank !== 4) throw new Error(`patchEmbed3d: weight must be [D,C,t,p,p] or [D,C,p,p], got ${shapeStr(w.shape)}`);
  const [D, C] = w.shape;
  const t = w.rank === 5 ? w.shape[2] : 1;
  const p = w.shape[w.rank - 1];
  if (video.rank !== 5 || video.shape[1] !== C)
    throw new Error(`patchEmbed3d: video must be [B,${C},T,H,W], got ${shapeStr(video.shape)}`);
  const [B, , T, H, W] = video.shape;
  const K = idx ? idx.shape[1] : Math.floor(T / t) * Math.floor(H / p) * Math.floor(W / p);
  const cols = C * t * p * p;
  const patches = Tensor.empty([B, K, cols], 'float32', video.device);
  native.unfoldTubelets(video.handle, idx?.handle ?? null, patches.handle, t, p);
  const bf16 = matmulDtype() === 'bfloat16';
  const op = gemmOperands(patches.view([B * K, cols]), w, [D, cols]);
  patches.dispose();
  const out = Tensor.empty([B, K, D], 'float32', video.device);
  const o2 = out.view([B * K, D]);
  native.gemm(op.x.handle, op.w.handle, o2.handle, false, true, 1, 0, b.handle);
  o2.dispose();
  op.w.dispose();
  if (!needsGrad(w, b)) {
    op.x.dispose();
    return out;
  }
  return record(out, 'patchEmbed3d', [null, w, b], [op.x], (g) => {
    const g2 = g.view([B * K, D]);
    const { dya: ga, gb } = outputGrad(g2, b, bf16, w.requiresGrad);
    const gw = paramGrad(w, (target) => {
      const t2 = target.view([D, cols]);
      native.gemm(ga!.handle, op.x.handle, t2.handle, true, false, 1, 1, null);
      t2.dispose();
    });
    if (ga !== g2) ga?.dispose();
    g2.dispose();
    return [null, gw, gb];
  });
}
