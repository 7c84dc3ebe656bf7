// Multi-head scaled-dot-product attention reading the fused projections in place:
// self-attention takes qkv [B,N,3D] (MOD-03 layout q|k|v, heads inside each), the
// pooler's cross-attention takes q [B,Q,D] and kv [B,N,2D] (MOD-13 layout k|v).
// Under autocast('bfloat16') the CUDA backend runs the products on bf16 tensor cores. Inputs may
// be bf16 activations (the projections emit them under bf16); the output then is bf16 too, and
// the CPU's forward reads them with vdpbf16ps where it has AVX512-BF16 (its other paths widen
// them to fp32). lse, the softmax and the gradients stay fp32.
import { native } from '../native.js';
import { Tensor, shapeStr } from '../tensor.js';
import { needsGrad, record } from '../autograd.js';
import { matmulDtype } from './autocast.js';

export function selfAttention(qkv: Tensor, heads: number): Tensor {
  if (qkv.rank !== 3 || qkv.shape[2] % 3 !== 0)
    throw new Error(`selfAttention: qkv must be [B, N, 3D], got ${shapeStr(qkv.shape)}`);
  const [B, N, C3] = qkv.shape;
  const D = C3 / 3;
  const scale = 1 / Math.sqrt(D / heads);
  const out = Tensor.empty([B, N, D], qkv.dtype, qkv.device);
  const lse = Tensor.empty([B, heads, N], 'float32', qkv.device);
  const bf16 = matmulDtype() === 'bfloat16';
  native.attentionFwd(qkv.handle, 0, qkv.handle, D, qkv.handle, 2 * D, out.handle, lse.handle, heads, scale, bf16);
  if (!needsGrad(qkv)) {
    lse.dispose();
    return out;
  }
  // out itself is needed by backward (D_i = rowsum(dO∘O)); keep a reference via a view.
  const outSaved = out.view(out.shape);
  return record(out, 'selfAttention', [qkv], [lse, outSaved], (g) => {
    const dqkv = Tensor.empty(qkv.shape, 'float32', qkv.device);
    native.attentionBwd(qkv.handle, 0, qkv.handle, D, qkv.handle, 2 * D, outSaved.handle, lse.handle, g.handle,
      dqkv.handle, 0, dqkv.handle, D, dqkv.handle, 2 * D, heads, scale, bf16);
    return [dqkv];
  });
}

export function crossAttention(q: Tensor, kv: Tensor, heads: number): Tensor {
  if (q.rank !== 3 || kv.rank !== 3 || kv.shape[2] !== 2 * q.shape[2] || kv.shape[0] !== q.shape[0])
    throw new Error(`crossAttention: expected q [B,Q,D] and kv [B,N,2D], got ${shapeStr(q.shape)} and ${shapeStr(kv.shape)}`);
  const [B, Q, D] = q.shape;
  const scale = 1 / Math.sqrt(D / heads);
  const out = Tensor.empty([B, Q, D], q.dtype, q.device);
  const lse = Tensor.empty([B, heads, Q], 'float32', q.device);
  const bf16 = matmulDtype() === 'bfloat16';
  native.attentionFwd(q.handle, 0, kv.handle, 0, kv.handle, D, out.handle, lse.handle, heads, scale, bf16);
  if (!needsGrad(q, kv)) {
    lse.dispose();
    return out;
  }
  const outSaved = out.view(out.shape);
  return record(out, 'crossAttention', [q, kv], [lse, outSaved], (g) => {
    const dq = Tensor.empty(q.shape, 'float32', q.device);
    const dkv = Tensor.empty(kv.shape, 'float32', kv.device);
    native.attentionBwd(q.handle, 0, kv.handle, 0, kv.handle, D, outSaved.handle, lse.handle, g.handle,
      dq.handle, 0, dkv.handle, 0, dkv.handle, D, heads, scale, bf16);
    return [q.requiresGrad ? dq : (dq.dispose(), null), kv.requiresGrad ? dkv : (dkv.dispose(), null)];
  });
}
