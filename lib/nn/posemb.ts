// Fixed sincos position tables (MOD-06) and their resize (MOD-07): trilinear for the video model, bicubic for the image model.
import { native } from '../native.js';
import { Tensor } from '../tensor.js';

/** [1, T*H*W, D] table for a T×H×W token grid. */
export function sincos3dTable(T: number, H: number, W: number, D: number, uniformPower: boolean): Tensor {
  const t = Tensor.empty([T * H * W, D]);
  native.sincos3d(t.handle, T, H, W, uniformPower);
  const v = t.view([1, T * H * W, D]);
  t.dispose();
  return v;
}

export function sincos2dTable(H: number, W: number, D: number): Tensor {
  const t = Tensor.empty([H * W, D]);
  native.sincos2d(t.handle, H, W);
  const v = t.view([1, H * W, D]);
  t.dispose();
  return v;
}

// One axis of PyTorch's linear interpolation with align_corners=False and an explicit size.
function axisWeights(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; l1: Float64Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const l1 = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    let src = (o + 0.5) * scale - 0.5;
    if (src < 0) src = 0;
    const f = Math.min(Math.floor(src), inSize - 1);
    i0[o] = f;
    i1[o] = Math.min(f + 1, inSize - 1);
    l1[o] = src - f;
  }
  return { i0, i1, l1 };
}

/**
 * Resizes a [T0*H0*W0, D] table (time, height, width order) to T1×H1×W1 by trilinear
 * interpolation, align_corners off, with the target size computed exactly (MOD-07's
 * float-scale off-by-one is avoided on purpose).
 */
export function interpolateTable(
  src: Float32Array,
  from: [number, number, number],
  to: [number, number, number],
  D: number,
): Float32Array {
  const [T0, H0, W0] = from;
  const [T1, H1, W1] = to;
  const at = axisWeights(T0, T1);
  const ah = axisWeights(H0, H1);
  const aw = axisWeights(W0, W1);
  const out = new Float32Array(T1 * H1 * W1 * D);
  const acc = new Float64Array(D);
  for (let t = 0; t < T1; t++)
    for (let h = 0; h < H1; h++)
      for (let w = 0; w < W1; w++) {
        acc.fill(0);
        for (const [ti, tw] of [[at.i0[t], 1 - at.l1[t]], [at.i1[t], at.l1[t]]])
          for (const [hi, hw] of [[ah.i0[h], 1 - ah.l1[h]], [ah.i1[h], ah.l1[h]]])
            for (const [wi, ww] of [[aw.i0[w], 1 - aw.l1[w]], [aw.i1[w], aw.l1[w]]]) {
              const wgt = tw * hw * ww;
              if (wgt === 0) continue;
              const base = ((ti * H0 + hi) * W0 + wi) * D;
              for (let d = 0; d < D; d++) acc[d] += wgt * src[base + d];
            }
        const o = ((t * H1 + h) * W1 + w) * D;
        for (let d = 0; d < D; d++) out[o + d] = acc[d];
      }
  return out;
}

// PyTorch's cubic convolution weights (A = -0.75) for a fractional offset t in [0, 1).
function cubicWeights(t: number): [number, number, number, number] {
  const A = -0.75;
  const near = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const far = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/**
 * Resizes a [H0*W0, D] table (height, width order) to H1×W1 as `F.interpolate(mode='bicubic',
 * align_corners=False)` with an explicit size does: MOD-07's image-model resize, with the target
 * size computed exactly (the original's single float factor √(N1/N0) only fits square grids).
 */
export function interpolateTable2d(src: Float32Array, from: [number, number], to: [number, number], D: number): Float32Array {
  const [H0, W0] = from;
  const [H1, W1] = to;
  // Source taps and weights per output row and column; PyTorch clamps the taps at the border.
  const axis = (inSize: number, outSize: number) => {
    const scale = inSize / outSize;
    return Array.from({ length: outSize }, (_, o) => {
      const real = (o + 0.5) * scale - 0.5; // unclamped for cubic, as PyTorch does
      const f = Math.floor(real);
      const w = cubicWeights(real - f);
      return w.map((wt, k) => [Math.min(Math.max(f - 1 + k, 0), inSize - 1), wt] as const);
    });
  };
  const ah = axis(H0, H1);
  const aw = axis(W0, W1);
  const out = new Float32Array(H1 * W1 * D);
  const acc = new Float64Array(D);
  for (let h = 0; h < H1; h++)
    for (let w = 0; w < W1; w++) {
      acc.fill(0);
      for (const [hi, hw] of ah[h])
        for (const [wi, ww] of aw[w]) {
          const base = (hi * W0 + wi) * D;
          for (let d = 0; d < D; d++) acc[d] += hw * ww * src[base + d];
        }
      const o = (h * W1 + w) * D;
      for (let d = 0; d < D; d++) out[o + d] = acc[d];
    }
  return out;
}
