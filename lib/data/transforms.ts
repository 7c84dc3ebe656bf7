import { Rng, roundHalfEven } from './rng.js';
import { computeTaps, resampleFrame, type Kernel, type NormalizeSpec, type Taps } from './resample.js';
import { videoRandAugment, type RandAugmentOptions } from './augment.js';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
/** Normalisation on the 0..255 scale (DATA-04 step 5: mean and std times 255). */
export const NORM255: NormalizeSpec = {
  mean: IMAGENET_MEAN.map((m) => m * 255),
  std: IMAGENET_STD.map((s) => s * 255),
};

export interface TrainTransformOptions {
  kind: 'train';
  /** area fraction range, DATA-05 (pretraining default [0.3, 1.0]) */
  scale?: [number, number];
  /** aspect w/h range, log-uniform (pretraining default [0.75, 1.35]) */
  ratio?: [number, number];
  /** horizontal flip p = 0.5 (DATA-07; pretraining: on) */
  flip?: boolean;
  /** video RandAugment rand-m7-n4-mstd0.5-inc1 before the crop (DATA-08) */
  autoAugment?: boolean;
  /** interpolated moving crop (DATA-06) */
  motionShift?: boolean;
  /** random-erasing probability (DATA-09), applied after normalisation */
  reprob?: number;
}

export interface EvalTransformOptions {
  kind: 'eval';
  /** spatial views per clip (DATA-10); 1 = resize short side + centre crop */
  numViews?: number;
  /** short side before the centre crop for 1 view, default 256/224 (DATA-10) */
  shortSideScale?: number;
}

export type VideoTransformOptions = TrainTransformOptions | EvalTransformOptions;

/** Pretraining transform defaults of the shipped configs (DATA-04). */
export function pretrainTransform(o: Partial<Omit<TrainTransformOptions, 'kind'>> = {}): TrainTransformOptions {
  return { kind: 'train', scale: [0.3, 1.0], ratio: [0.75, 1.35], flip: true, autoAugment: false, motionShift: false, reprob: 0, ...o };
}

/** Video-probe training transform (DATA-10): RandAugment, crop scale (0.08, 1), no flip, erasing 0.25. */
export function probeTrainTransform(o: Partial<Omit<TrainTransformOptions, 'kind'>> = {}): TrainTransformOptions {
  return { kind: 'train', scale: [0.08, 1.0], ratio: [0.75, 4 / 3], flip: false, autoAugment: true, motionShift: false, reprob: 0.25, ...o };
}

export interface Box {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** DATA-05 box: 10 tries of log-uniform aspect (w/h) and uniform area, then a centred fallback. */
export function sampleCropBox(H: number, W: number, scale: [number, number], ratio: [number, number], rng: Rng): Box {
  const area = H * W;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const r = Math.exp(rng.uniform(logLo, logHi));
    const w = Math.trunc(roundHalfEven(Math.sqrt(target * r)));
    const h = Math.trunc(roundHalfEven(Math.sqrt(target / r)));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      const top = rng.randint(0, H - h);
      const left = rng.randint(0, W - w);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = W / H;
  let w: number;
  let h: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) {
    w = W;
    h = Math.trunc(roundHalfEven(w / Math.min(ratio[0], ratio[1])));
  } else if (inRatio > Math.max(ratio[0], ratio[1])) {
    h = H;
    w = Math.trunc(roundHalfEven(h * Math.max(ratio[0], ratio[1])));
  } else {
    w = W;
    h = H;
  }
  return { top: Math.floor((H - h) / 2), left: Math.floor((W - w) / 2), height: h, width: w };
}

/** A clip's frames: frame i of the clip starts at data[frameOffsets[i]], RGB interleaved, H x W. */
export interface ClipFrames {
  data: Uint8Array;
  frameOffsets: number[];
  height: number;
  width: number;
}

const tmpCache = { buf: new Float32Array(0) };
function scratch(n: number): Float32Array {
  if (tmpCache.buf.length < n) tmpCache.buf = new Float32Array(n);
  return tmpCache.buf;
}

/** Crop a per-frame box and resize it to S x S into out[3, T, S, S] at outOffset. */
function cropResizeFrames(clip: ClipFrames, boxes: (i: number) => Box, S: number, out: Float32Array, outOffset: number, flip: boolean, kernel: Kernel): void {
  const T = clip.frameOffsets.length;
  const planeStride = T * S * S;
  let last: Box | null = null;
  let ty: Taps | null = null;
  let tx: Taps | null = null;
  for (let t = 0; t < T; t++) {
    const b = boxes(t);
    if (!last || b.top !== last.top || b.left !== last.left || b.height !== last.height || b.width !== last.width) {
      ty = computeTaps(b.top, b.height, S, kernel, false);
      tx = computeTaps(b.left, b.width, S, kernel, false);
      last = b;
    }
    const tmp = scratch(S * clip.width * 3);
    resampleFrame(clip.data, clip.frameOffsets[t], clip.width, ty!, tx!, S, S, out, outOffset + t * S * S, planeStride, NORM255, tmp, flip);
  }
}

/** DATA-09 cube erasing on out[3, T, S, S]: one rectangle, fresh N(0,1) noise per frame. */
export function randomErase(out: Float32Array, offset: number, T: number, S: number, p: number, rng: Rng): void {
  if (!(p > 0) || rng.random() >= p) return;
  const area = S * S;
  const logLo = Math.log(0.3);
  const logHi = Math.log(1 / 0.3);
  for (let attempt = 0; attempt < 100; attempt++) {
    const target = rng.uniform(0.02, 1 / 3) * area;
    const r = Math.exp(rng.uniform(logLo, logHi));
    const h = Math.trunc(roundHalfEven(Math.sqrt(target * r)));
    const w = Math.trunc(roundHalfEven(Math.sqrt(target / r)));
    if (w < S && h < S) {
      const top = rng.randint(0, S - h);
      const left = rng.randint(0, S - w);
      for (let t = 0; t < T; t++) {
        for (let c = 0; c < 3; c++) {
          const plane = offset + (c * T + t) * S * S;
          for (let y = top; y < top + h; y++) {
            for (let x = left; x < left + w; x++) out[plane + y * S + x] = rng.normal();
          }
        }
      }
      return;
    }
  }
}

/**
 * DATA-04 training transform of one clip into out[3, T, S, S] at outOffset. Normalisation is
 * folded into the resampling (bilinear weights sum to 1, so it commutes with the affine map).
 */
export function trainClipTransform(clip: ClipFrames, S: number, o: TrainTransformOptions, rng: Rng, out: Float32Array, outOffset: number, raOpts?: RandAugmentOptions): void {
  const scale = o.scale ?? [0.3, 1.0];
  const ratio = o.ratio ?? [0.75, 1.35];
  let frames = clip;
  if (o.autoAugment) frames = videoRandAugment(clip, rng, raOpts);
  const H = frames.height;
  const W = frames.width;
  let boxes: (i: number) => Box;
  if (o.motionShift) {
    // DATA-06: first- and last-frame boxes, linearly interpolated and truncated per frame
    const a = sampleCropBox(H, W, scale, ratio, rng);
    const b = sampleCropBox(H, W, scale, ratio, rng);
    const T = frames.frameOffsets.length;
    boxes = (i) => {
      // (y - x)·i / (T - 1), not (y - x)·(i / (T - 1)): the latter can land just below a whole number
      // (62.99999999999999 for 0 → 90 at 7/10), which truncates one pixel short of the original's box.
      const lerp = (x: number, y: number) => (T > 1 ? Math.trunc(x + ((y - x) * i) / (T - 1)) : x);
      return { top: lerp(a.top, b.top), left: lerp(a.left, b.left), height: Math.max(1, lerp(a.height, b.height)), width: Math.max(1, lerp(a.width, b.width)) };
    };
  } else {
    const box = sampleCropBox(H, W, scale, ratio, rng);
    boxes = () => box;
  }
  const flip = (o.flip ?? true) && rng.random() < 0.5;
  cropResizeFrames(frames, boxes, S, out, outOffset, flip, 'bilinear');
  randomErase(out, outOffset, frames.frameOffsets.length, S, o.reprob ?? 0, rng);
}

/**
 * DATA-10 validation views of one clip. Writes numViews blocks of [3, T, S, S], view v at
 * outOffset + v * viewStride.
 */
export function evalClipTransform(clip: ClipFrames, S: number, o: EvalTransformOptions, out: Float32Array, outOffset: number, viewStride: number): void {
  const V = o.numViews ?? 1;
  const H = clip.height;
  const W = clip.width;
  const short = Math.min(H, W);
  const long = Math.max(H, W);
  const target = V > 1 ? S : Math.trunc(S * (o.shortSideScale ?? 256 / 224));
  // resize short side to `target`, long side int(target * long / short)
  const newShort = target;
  const newLong = Math.trunc((target * long) / short);
  const newH = H <= W ? newShort : newLong;
  const newW = H <= W ? newLong : newShort;
  for (let v = 0; v < V; v++) {
    let oy: number;
    let ox: number;
    if (V === 1) {
      oy = Math.trunc(roundHalfEven((newH - S) / 2));
      ox = Math.trunc(roundHalfEven((newW - S) / 2));
    } else {
      const step = Math.floor((Math.max(newH, newW) - S) / (V - 1));
      if (newH > newW) {
        oy = v * step;
        ox = 0;
      } else {
        oy = 0;
        ox = v * step;
      }
    }
    if (newH < S || newW < S) throw new Error(`eval transform: resized frame ${newW}x${newH} is smaller than the crop ${S}`);
    // taps of the full resize, restricted to the crop window
    const ty = subTaps(computeTaps(0, H, newH, 'bilinear', false), oy, S);
    const tx = subTaps(computeTaps(0, W, newW, 'bilinear', false), ox, S);
    const T = clip.frameOffsets.length;
    const tmp = scratch(S * W * 3);
    for (let t = 0; t < T; t++) {
      resampleFrame(clip.data, clip.frameOffsets[t], W, ty, tx, S, S, out, outOffset + v * viewStride + t * S * S, T * S * S, NORM255, tmp, false);
    }
  }
}

function subTaps(t: Taps, start: number, n: number): Taps {
  return { k: t.k, idx: t.idx.slice(start * t.k, (start + n) * t.k), w: t.w.slice(start * t.k, (start + n) * t.k) };
}
