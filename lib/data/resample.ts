// Separable resampling with precomputed taps. Bilinear without antialias reproduces
// torch.nn.functional.interpolate(mode='bilinear', align_corners=False) exactly (taps
// clamped at the borders); the antialiased kernels follow PIL's resize (image pipeline).

export type Kernel = 'bilinear' | 'bicubic';

export interface Taps {
  /** taps per output sample */
  k: number;
  /** absolute source indices, [outLen * k] */
  idx: Int32Array;
  w: Float32Array;
}

function cubic(x: number, a: number): number {
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/**
 * Taps mapping source range [start, start+len) onto outLen samples.
 * bilinear/no-antialias: torch semantics. bicubic/no-antialias: torch (a = -0.75, clamped
 * indices). antialias: PIL semantics (a = -0.5 for bicubic, support widened when shrinking).
 */
export function computeTaps(start: number, len: number, outLen: number, kernel: Kernel, antialias: boolean): Taps {
  const scale = len / outLen;
  if (!antialias) {
    if (kernel === 'bilinear') {
      const idx = new Int32Array(outLen * 2);
      const w = new Float32Array(outLen * 2);
      for (let o = 0; o < outLen; o++) {
        let src = (o + 0.5) * scale - 0.5;
        if (src < 0) src = 0;
        let x0 = Math.floor(src);
        if (x0 > len - 1) x0 = len - 1;
        const x1 = Math.min(x0 + 1, len - 1);
        const l = src - x0;
        idx[2 * o] = start + x0;
        idx[2 * o + 1] = start + x1;
        w[2 * o] = 1 - l;
        w[2 * o + 1] = l;
      }
      return { k: 2, idx, w };
    }
    const idx = new Int32Array(outLen * 4);
    const w = new Float32Array(outLen * 4);
    for (let o = 0; o < outLen; o++) {
      const src = (o + 0.5) * scale - 0.5;
      const x0 = Math.floor(src);
      const t = src - x0;
      for (let j = 0; j < 4; j++) {
        const xi = Math.min(Math.max(x0 - 1 + j, 0), len - 1);
        idx[4 * o + j] = start + xi;
        w[4 * o + j] = cubic(t - (j - 1), -0.75);
      }
    }
    return { k: 4, idx, w };
  }
  const support = (kernel === 'bilinear' ? 1 : 2) * Math.max(scale, 1);
  const fscale = Math.max(scale, 1);
  const k = Math.ceil(support) * 2 + 1;
  const idx = new Int32Array(outLen * k);
  const w = new Float32Array(outLen * k);
  for (let o = 0; o < outLen; o++) {
    const center = (o + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > len) xmax = len;
    let total = 0;
    const ws: number[] = [];
    for (let x = xmin; x < xmax; x++) {
      const arg = (x - center + 0.5) / fscale;
      const v = kernel === 'bilinear' ? Math.max(0, 1 - Math.abs(arg)) : cubic(arg, -0.5);
      ws.push(v);
      total += v;
    }
    for (let j = 0; j < k; j++) {
      const x = xmin + j;
      idx[o * k + j] = start + Math.min(Math.max(x, xmin), Math.max(xmax - 1, xmin));
      w[o * k + j] = j < ws.length && total !== 0 ? ws[j] / total : 0;
    }
  }
  return { k, idx, w };
}

export interface NormalizeSpec {
  /** per channel: out = (v - mean[c]) / std[c], with v on the source's 0..255 scale */
  mean: readonly number[];
  std: readonly number[];
}

/**
 * Resample one interleaved RGB uint8 frame (rows of `srcW` pixels) through the taps into a
 * channels-first float output: out[c*planeStride + y*outW + x]. `tmp` must hold
 * outH * (span of x taps) * 3 floats; we simply size it outH * srcW * 3.
 */
export function resampleFrame(
  src: Uint8Array,
  srcOffset: number,
  srcW: number,
  ty: Taps,
  tx: Taps,
  outH: number,
  outW: number,
  out: Float32Array,
  outOffset: number,
  planeStride: number,
  norm: NormalizeSpec,
  tmp: Float32Array,
  flip: boolean,
  clampU8 = false,
): void {
  // vertical pass over only the columns the x taps touch
  let cmin = Infinity;
  let cmax = -Infinity;
  for (let i = 0; i < tx.idx.length; i++) {
    const c = tx.idx[i];
    if (c < cmin) cmin = c;
    if (c > cmax) cmax = c;
  }
  const cw = cmax - cmin + 1;
  const ky = ty.k;
  if (ky === 2 && tx.k === 2) {
    bilinearFrame(src, srcOffset, srcW, ty, tx, outH, outW, out, outOffset, planeStride, norm, tmp, flip, clampU8, cmin, cw);
    return;
  }
  for (let y = 0; y < outH; y++) {
    const trow = y * cw * 3;
    for (let j = 0; j < cw * 3; j++) tmp[trow + j] = 0;
    for (let t = 0; t < ky; t++) {
      const wt = ty.w[y * ky + t];
      if (wt === 0) continue;
      const rowBase = srcOffset + (ty.idx[y * ky + t] * srcW + cmin) * 3;
      for (let j = 0; j < cw * 3; j++) tmp[trow + j] += wt * src[rowBase + j];
    }
  }
  const kx = tx.k;
  const m0 = norm.mean[0], m1 = norm.mean[1], m2 = norm.mean[2];
  const s0 = 1 / norm.std[0], s1 = 1 / norm.std[1], s2 = 1 / norm.std[2];
  for (let y = 0; y < outH; y++) {
    const trow = y * cw * 3;
    const orow = outOffset + y * outW;
    for (let x = 0; x < outW; x++) {
      let r = 0, g = 0, b = 0;
      for (let t = 0; t < kx; t++) {
        const wt = tx.w[x * kx + t];
        const p = trow + (tx.idx[x * kx + t] - cmin) * 3;
        r += wt * tmp[p];
        g += wt * tmp[p + 1];
        b += wt * tmp[p + 2];
      }
      if (clampU8) {
        r = r < 0 ? 0 : r > 255 ? 255 : r;
        g = g < 0 ? 0 : g > 255 ? 255 : g;
        b = b < 0 ? 0 : b > 255 ? 255 : b;
      }
      const ox = orow + (flip ? outW - 1 - x : x);
      out[ox] = (r - m0) * s0;
      out[ox + planeStride] = (g - m1) * s1;
      out[ox + 2 * planeStride] = (b - m2) * s2;
    }
  }
}

/**
 * resampleFrame for two taps each way (bilinear without antialias: every video crop). The same
 * arithmetic, rounded where the general loop rounds (its float32 row buffer), so the same bits;
 * 16 frames of 224² took 16 ms in the general loop.
 */
function bilinearFrame(
  src: Uint8Array,
  srcOffset: number,
  srcW: number,
  ty: Taps,
  tx: Taps,
  outH: number,
  outW: number,
  out: Float32Array,
  outOffset: number,
  planeStride: number,
  norm: NormalizeSpec,
  tmp: Float32Array,
  flip: boolean,
  clampU8: boolean,
  cmin: number,
  cw: number,
): void {
  const n = cw * 3;
  const yi = ty.idx;
  const yw = ty.w;
  for (let y = 0; y < outH; y++) {
    const trow = y * n;
    const w0 = yw[2 * y];
    const w1 = yw[2 * y + 1];
    const r0 = srcOffset + (yi[2 * y] * srcW + cmin) * 3;
    const r1 = srcOffset + (yi[2 * y + 1] * srcW + cmin) * 3;
    if (w1 === 0) {
      for (let j = 0; j < n; j++) tmp[trow + j] = w0 * src[r0 + j];
    } else if (w0 === 0) {
      for (let j = 0; j < n; j++) tmp[trow + j] = w1 * src[r1 + j];
    } else {
      for (let j = 0; j < n; j++) tmp[trow + j] = Math.fround(w0 * src[r0 + j]) + w1 * src[r1 + j];
    }
  }
  const xi = tx.idx;
  const xw = tx.w;
  const m0 = norm.mean[0], m1 = norm.mean[1], m2 = norm.mean[2];
  const s0 = 1 / norm.std[0], s1 = 1 / norm.std[1], s2 = 1 / norm.std[2];
  for (let y = 0; y < outH; y++) {
    const trow = y * n;
    const orow = outOffset + y * outW;
    for (let x = 0; x < outW; x++) {
      const a = xw[2 * x];
      const b = xw[2 * x + 1];
      const p = trow + (xi[2 * x] - cmin) * 3;
      const q = trow + (xi[2 * x + 1] - cmin) * 3;
      let r = a * tmp[p] + b * tmp[q];
      let g = a * tmp[p + 1] + b * tmp[q + 1];
      let bl = a * tmp[p + 2] + b * tmp[q + 2];
      if (clampU8) {
        r = r < 0 ? 0 : r > 255 ? 255 : r;
        g = g < 0 ? 0 : g > 255 ? 255 : g;
        bl = bl < 0 ? 0 : bl > 255 ? 255 : bl;
      }
      const ox = orow + (flip ? outW - 1 - x : x);
      out[ox] = (r - m0) * s0;
      out[ox + planeStride] = (g - m1) * s1;
      out[ox + 2 * planeStride] = (bl - m2) * s2;
    }
  }
}
