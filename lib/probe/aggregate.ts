// Clip aggregation (MOD-14) and the multi-view loss / prediction of EVAL-04.
// Features of one batch are [S·V·B, N, D], segment-major, then view, then sample: the order in
// which the clips went through the encoder. Classifier inputs ("calls") are built from them.
import { Tensor } from '../tensor.js';
import { sliceTokens, concatTokens, concatBatch } from '../ops/tokens.js';
import { crossEntropy } from '../ops/loss.js';
import { noGrad } from '../autograd.js';
import type { VisionTransformer } from '../nn/vit.js';

export interface Layout {
  /** temporal segments */
  S: number;
  /** spatial views per segment */
  V: number;
  /** samples */
  B: number;
}

/** Runs every S·V·B clip through the frozen encoder ([S·V·B,3,T,H,W] -> [S·V·B,N,D]), in chunks if asked. */
export function encodeClips(encoder: VisionTransformer, clips: Tensor, chunk: number | null = null): Tensor {
  return noGrad(() => {
    const n = clips.shape[0];
    if (!chunk || chunk >= n) return encoder.forward(clips);
    const per = clips.numel / n;
    const parts: Tensor[] = [];
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      const flat = sliceTokens(clips.view([1, n, per]), i, m);
      parts.push(encoder.forward(flat.view([m, ...clips.shape.slice(1)])));
    }
    return concatBatch(parts);
  });
}

/** out[view][segment] = [B, N, D] (MOD-14 regrouping). */
export function regroup(features: Tensor, l: Layout): Tensor[][] {
  const [R, N, D] = features.shape;
  if (R !== l.S * l.V * l.B) throw new Error(`regroup: ${R} feature rows for S=${l.S} V=${l.V} B=${l.B}`);
  const flat = features.view([1, R * N, D]);
  const out: Tensor[][] = [];
  for (let v = 0; v < l.V; v++) {
    const row: Tensor[] = [];
    for (let s = 0; s < l.S; s++) row.push(sliceTokens(flat, (s * l.V + v) * l.B * N, l.B * N).view([l.B, N, D]));
    out.push(row);
  }
  return out;
}

/**
 * The classifier inputs: with attend_across_segments one call per view on the segments' tokens
 * concatenated along time ([B, S·N, D], segment 0 first); otherwise one call per (view, segment).
 */
export function classifierCalls(features: Tensor, l: Layout, attendAcrossSegments: boolean): Tensor[] {
  const grouped = regroup(features, l);
  if (!attendAcrossSegments) return grouped.flat();
  // Concatenating [B,T',H'W',D] blocks along T' and flattening is a token concat (time is slowest).
  return grouped.map((segs) => segs.slice(1).reduce((acc, s) => concatTokens(acc, s), segs[0]));
}

/** The calls' logits stacked call-major: [calls·B, C]. */
export function stackCalls(logits: Tensor[]): Tensor {
  return logits.length === 1 ? logits[0] : concatBatch(logits);
}

/**
 * Cross-entropy averaged over the calls (each call has B rows, so one CE over the stacked logits).
 * Takes the calls' logits or their stackCalls result; the labels go to the logits' device.
 */
export function multiCallLoss(logits: Tensor[] | Tensor, labels: Int32Array): Tensor {
  const all = Array.isArray(logits) ? stackCalls(logits) : logits;
  const calls = all.shape[0] / labels.length;
  if (!Number.isInteger(calls)) throw new Error(`multiCallLoss: ${all.shape[0]} logit rows for ${labels.length} labels`);
  const rep = new Int32Array(labels.length * calls);
  for (let c = 0; c < calls; c++) rep.set(labels, c * labels.length);
  return crossEntropy(all, Tensor.from(rep, [rep.length], 'int32', all.device));
}

/** Average of the softmax probabilities over calls: [B, C] (host arrays of [B, C] logits). */
export function averageProbabilities(logits: Float32Array[], B: number, C: number): Float64Array {
  const p = new Float64Array(B * C);
  for (const l of logits) {
    for (let b = 0; b < B; b++) {
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, l[b * C + c]);
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(l[b * C + c] - m);
      for (let c = 0; c < C; c++) p[b * C + c] += Math.exp(l[b * C + c] - m) / z / logits.length;
    }
  }
  return p;
}

/** argmax per row (first maximum wins, as torch.max). */
export function argmaxRows(p: ArrayLike<number>, B: number, C: number): Int32Array {
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (p[b * C + c] > p[b * C + best]) best = c;
    out[b] = best;
  }
  return out;
}

/** Number of correct predictions of the averaged-softmax rule. */
export function countCorrect(logits: Float32Array[], labels: Int32Array, C: number): number {
  const B = labels.length;
  const pred = argmaxRows(averageProbabilities(logits, B, C), B, C);
  let n = 0;
  for (let b = 0; b < B; b++) if (pred[b] === labels[b]) n++;
  return n;
}

/**
 * Encoder features of a batch [S·V·B, N, D], on the encoder's device (the host clips are copied
 * there once). When every view of every (segment, sample) is the same clip (square frames give V
 * identical windows, DATA-10), the clips are encoded once and the features repeated: the numbers
 * are exactly those of encoding all S·V·B clips.
 */
export function encodeBatch(encoder: VisionTransformer, clips: Float32Array, clipShape: number[], l: Layout, chunk: number | null = null): Tensor {
  const device = encoder.posEmbed.device;
  const per = clips.length / (l.S * l.V * l.B);
  if (l.V > 1 && viewsIdentical(clips, l, per)) {
    const unique = new Float32Array(l.S * l.B * per);
    for (let s = 0; s < l.S; s++) unique.set(clips.subarray(s * l.V * l.B * per, (s * l.V + 1) * l.B * per), s * l.B * per);
    return noGrad(() => {
      const f = encodeClips(encoder, Tensor.from(unique, [l.S * l.B, ...clipShape.slice(1)], 'float32', device), chunk);
      const [, N, D] = f.shape;
      const flat = f.view([1, l.S * l.B * N, D]);
      const parts: Tensor[] = [];
      for (let s = 0; s < l.S; s++) {
        const seg = sliceTokens(flat, s * l.B * N, l.B * N).view([l.B, N, D]);
        for (let v = 0; v < l.V; v++) parts.push(seg);
      }
      return concatBatch(parts);
    });
  }
  return encodeClips(encoder, Tensor.from(clips, clipShape, 'float32', device), chunk);
}

function viewsIdentical(clips: Float32Array, l: Layout, per: number): boolean {
  for (let s = 0; s < l.S; s++) {
    const base = s * l.V * l.B * per;
    const v0 = clips.subarray(base, base + l.B * per);
    for (let v = 1; v < l.V; v++) {
      const o = base + v * l.B * per;
      for (let i = 0; i < v0.length; i++) if (clips[o + i] !== v0[i]) return false;
    }
  }
  return true;
}
