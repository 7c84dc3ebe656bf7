// Frozen-encoder features for host clips, one bounded batch at a time (MOD-08): each batch's
// device tensors live inside a tidy scope and only host features come out.
import { noGrad } from '../autograd.js';
import type { HostTensor } from '../io/host-tensor.js';
import { autocast, type MatmulDtype } from '../ops/autocast.js';
import type { VisionTransformer } from '../nn/vit.js';
import { Tensor, tidy } from '../tensor.js';

export type Pool = 'none' | 'mean';

/** Token grid of a clip [.., T, H, W] for this encoder (floor division, as the patch embed). */
export function tokenGrid(encoder: VisionTransformer, T: number, H: number, W: number): [number, number, number] {
  return encoder.tokenGrid(T, H, W);
}

/**
 * Checks a clip batch shape [B, 3, T, H, W] (or, for the image model, images [B, 3, H, W]) against the
 * encoder; `what` names the source.
 */
export function checkClipShape(encoder: VisionTransformer, shape: readonly number[], what: string): number {
  const dims = encoder.clipDims(shape);
  if (!dims) throw new Error(`${what}: expected clips [B, 3, T, H, W]${encoder.isImage ? ' or images [B, 3, H, W]' : ''}, got [${shape.join(', ')}]`);
  const g = encoder.clipGrid(...dims, what);
  return g[0] * g[1] * g[2];
}

/** int32 copy of token indices [b, K], each checked against [0, N). */
export function tokenIndices(idx: HostTensor, N: number, what: string, rowOffset = 0): Int32Array {
  const out = new Int32Array(idx.data.length);
  const K = idx.shape[1];
  const src = idx.data;
  if (idx.dtype !== 'int32' && idx.dtype !== 'int64') throw new Error(`${what}: token indices must be int64 or int32, got ${idx.dtype}`);
  for (let i = 0; i < out.length; i++) {
    const v = Number(src[i]);
    if (!Number.isInteger(v) || v < 0 || v >= N) {
      throw new Error(`${what}: index ${String(src[i])} at [${rowOffset + Math.floor(i / K)}, ${i % K}] is outside the clip's ${N} tokens`);
    }
    out[i] = v;
  }
  return out;
}

function asFloat32(t: HostTensor, what: string): Float32Array {
  if (t.dtype === 'float32') return t.data as Float32Array;
  if (t.dtype === 'float64') return Float32Array.from(t.data as Float64Array);
  throw new Error(`${what}: clips must be float32 (or float64), got ${t.dtype}`);
}

/**
 * Features of one batch: clips [b, 3, T, H, W] (already normalised), optional kept-token
 * indices [b, K]. Returns host floats [b, K|N, D], or [b, D] averaged over tokens for 'mean'.
 * With `layers` (MOD-08's out_layers: blocks, each output through the final norm) the layer axis
 * comes after the batch's: [b, L, K|N, D] or [b, L, D].
 * With matmulDtype 'bfloat16' the encoder runs under autocast (bf16 GEMM and attention operands).
 */
export function embedBatch(
  encoder: VisionTransformer,
  clips: HostTensor,
  idx: Int32Array | null,
  pool: Pool,
  what = 'clips',
  matmulDtype: MatmulDtype = 'float32',
  layers: readonly number[] | null = null,
): Float32Array {
  const data = asFloat32(clips, what);
  const b = clips.shape[0];
  const device = encoder.posEmbed.device;
  return tidy(() => {
    const x = Tensor.from(data, clips.shape, 'float32', device);
    const i = idx ? Tensor.from(idx, [b, idx.length / b], 'int32', device) : null;
    const ys = noGrad(() => autocast(matmulDtype, () => (layers ? encoder.forwardLayers(x, layers, i) : [encoder.forward(x, i)])));
    const [, n, d] = ys[0].shape;
    const hosts = ys.map((y) => (pool === 'mean' ? meanTokens(y.toFloat32Array(), b, n, d) : y.toFloat32Array()));
    return hosts.length === 1 ? hosts[0] : batchMajor(hosts, b);
  });
}

/** Parts [A][b, x] (each part one layer, or one clip and view, of every video) -> [b, A, x]. */
export function batchMajor(parts: readonly Float32Array[], b: number): Float32Array {
  const x = parts[0].length / b;
  const out = new Float32Array(parts.length * parts[0].length);
  for (let j = 0; j < b; j++) parts.forEach((p, a) => out.set(p.subarray(j * x, (j + 1) * x), (j * parts.length + a) * x));
  return out;
}

/** [b, n, d] -> [b, d], summed in float64. */
export function meanTokens(x: Float32Array, b: number, n: number, d: number): Float32Array {
  const out = new Float32Array(b * d);
  const acc = new Float64Array(d);
  for (let s = 0; s < b; s++) {
    acc.fill(0);
    for (let k = 0; k < n; k++) {
      const o = (s * n + k) * d;
      for (let c = 0; c < d; c++) acc[c] += x[o + c];
    }
    for (let c = 0; c < d; c++) out[s * d + c] = acc[c] / n;
  }
  return out;
}
