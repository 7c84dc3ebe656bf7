// DATA-08 video RandAugment (rand-m7-n4-mstd0.5-inc1) and the DATA-11 AutoAugment "original"
// policy, on interleaved RGB uint8 frames. Geometric ops sample bilinearly (the original uses
// PIL bicubic); op arguments are drawn once per clip and applied to every frame.
import type { Rng } from './rng.js';
import type { ClipFrames } from './transforms.js';

type Fill = readonly [number, number, number];
type Op = (img: Uint8Array, h: number, w: number, arg: number, fill?: Fill) => Uint8Array;

// What rotate, shear and translate uncover: timm's default (128) for the video RandAugment, whose
// hparams carry no img_mean; the image AutoAugment passes IMAGENET_FILL.
const FILL: Fill = [128, 128, 128];

function lut(img: Uint8Array, table: Uint8Array | ((c: number) => Uint8Array)): Uint8Array {
  const out = new Uint8Array(img.length);
  if (table instanceof Uint8Array) {
    for (let i = 0; i < img.length; i++) out[i] = table[img[i]];
  } else {
    const t = [table(0), table(1), table(2)];
    for (let i = 0; i < img.length; i += 3) {
      out[i] = t[0][img[i]];
      out[i + 1] = t[1][img[i + 1]];
      out[i + 2] = t[2][img[i + 2]];
    }
  }
  return out;
}

function channelHist(img: Uint8Array, c: number): Uint32Array {
  const h = new Uint32Array(256);
  for (let i = c; i < img.length; i += 3) h[img[i]]++;
  return h;
}

const autoContrast: Op = (img) => {
  const tables: Uint8Array[] = [];
  for (let c = 0; c < 3; c++) {
    let lo = 255, hi = 0;
    for (let i = c; i < img.length; i += 3) {
      if (img[i] < lo) lo = img[i];
      if (img[i] > hi) hi = img[i];
    }
    const t = new Uint8Array(256);
    if (hi <= lo) for (let i = 0; i < 256; i++) t[i] = i;
    else {
      const scale = 255 / (hi - lo);
      const offset = -lo * scale;
      for (let i = 0; i < 256; i++) t[i] = Math.min(255, Math.max(0, Math.trunc(i * scale + offset)));
    }
    tables.push(t);
  }
  return lut(img, (c) => tables[c]);
};

const equalize: Op = (img) => {
  const tables: Uint8Array[] = [];
  for (let c = 0; c < 3; c++) {
    const h = channelHist(img, c);
    const t = new Uint8Array(256);
    const nz: number[] = [];
    for (let i = 0; i < 256; i++) if (h[i]) nz.push(h[i]);
    let step = 0;
    if (nz.length > 1) step = Math.floor((nz.reduce((a, b) => a + b, 0) - nz[nz.length - 1]) / 255);
    if (!step) for (let i = 0; i < 256; i++) t[i] = i;
    else {
      let n = Math.floor(step / 2);
      for (let i = 0; i < 256; i++) {
        t[i] = Math.min(255, Math.floor(n / step));
        n += h[i];
      }
    }
    tables.push(t);
  }
  return lut(img, (c) => tables[c]);
};

const invert: Op = (img) => {
  const out = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i++) out[i] = 255 - img[i];
  return out;
};

const posterize: Op = (img, _h, _w, bits) => {
  if (bits >= 8) return img;
  const mask = ~((1 << (8 - Math.max(0, bits))) - 1) & 0xff;
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = i & mask;
  return lut(img, t);
};

const solarize: Op = (img, _h, _w, thresh) => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = i < thresh ? i : 255 - i;
  return lut(img, t);
};

const solarizeAdd: Op = (img, _h, _w, add) => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = i < 128 ? Math.min(255, i + add) : i;
  return lut(img, t);
};

function blend(deg: Uint8Array | number, img: Uint8Array, f: number): Uint8Array {
  const out = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i++) {
    const d = typeof deg === 'number' ? deg : deg[i];
    const v = d + f * (img[i] - d);
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
  }
  return out;
}

function gray(img: Uint8Array): Uint8Array {
  const out = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i += 3) {
    const l = (img[i] * 19595 + img[i + 1] * 38470 + img[i + 2] * 7471 + 0x8000) >> 16;
    out[i] = out[i + 1] = out[i + 2] = l;
  }
  return out;
}

const color: Op = (img, _h, _w, f) => blend(gray(img), img, f);
const contrast: Op = (img, _h, _w, f) => {
  const g = gray(img);
  let s = 0;
  for (let i = 0; i < g.length; i += 3) s += g[i];
  const mean = Math.trunc(s / (g.length / 3) + 0.5);
  return blend(mean, img, f);
};
const brightness: Op = (img, _h, _w, f) => blend(0, img, f);
const sharpness: Op = (img, h, w, f) => {
  const deg = new Uint8Array(img);
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += img[((y + dy) * w + x + dx) * 3 + c] * (dx === 0 && dy === 0 ? 5 : 1);
        deg[(y * w + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(s / 13)));
      }
    }
  }
  return blend(deg, img, f);
};

/** Inverse affine map: source = (a x + b y + c, d x + e y + f), for output pixel centres. */
function affine(img: Uint8Array, h: number, w: number, m: number[], fill: Fill = FILL): Uint8Array {
  const [a, b, c, d, e, f] = m;
  const out = new Uint8Array(img.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = a * (x + 0.5) + b * (y + 0.5) + c - 0.5;
      const sy = d * (x + 0.5) + e * (y + 0.5) + f - 0.5;
      const o = (y * w + x) * 3;
      if (sx < -0.5 || sy < -0.5 || sx > w - 0.5 || sy > h - 0.5) {
        out[o] = fill[0];
        out[o + 1] = fill[1];
        out[o + 2] = fill[2];
        continue;
      }
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      for (let ch = 0; ch < 3; ch++) {
        const px = (xx: number, yy: number) =>
          xx < 0 || yy < 0 || xx >= w || yy >= h ? fill[ch] : img[(yy * w + xx) * 3 + ch];
        const v = (1 - fy) * ((1 - fx) * px(x0, y0) + fx * px(x0 + 1, y0)) + fy * ((1 - fx) * px(x0, y0 + 1) + fx * px(x0 + 1, y0 + 1));
        out[o + ch] = Math.round(v);
      }
    }
  }
  return out;
}

const rotate: Op = (img, h, w, deg, fill) => {
  const t = (-deg * Math.PI) / 180;
  const cx = w / 2, cy = h / 2;
  const cos = Math.cos(t), sin = Math.sin(t);
  return affine(img, h, w, [cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy], fill);
};
const shearX: Op = (img, h, w, s, fill) => affine(img, h, w, [1, s, 0, 0, 1, 0], fill);
const shearY: Op = (img, h, w, s, fill) => affine(img, h, w, [1, 0, 0, s, 1, 0], fill);
const translateXRel: Op = (img, h, w, p, fill) => affine(img, h, w, [1, 0, p * w, 0, 1, 0], fill);
const translateYRel: Op = (img, h, w, p, fill) => affine(img, h, w, [1, 0, 0, 0, 1, p * h], fill);

export interface OpDef {
  op: Op;
  /** magnitude (0..10) and rng -> argument */
  arg: (m: number, rng: Rng) => number;
}

const sign = (v: number, rng: Rng) => (rng.random() < 0.5 ? -v : v);
const enhanceInc = (m: number, rng: Rng) => 1 + sign((m / 10) * 0.9, rng);

/** The "increasing" RandAugment op set (15 ops). */
export const RAND_INCREASING_OPS: Record<string, OpDef> = {
  AutoContrast: { op: autoContrast, arg: () => 0 },
  Equalize: { op: equalize, arg: () => 0 },
  Invert: { op: invert, arg: () => 0 },
  Rotate: { op: rotate, arg: (m, r) => sign((m / 10) * 30, r) },
  PosterizeIncreasing: { op: posterize, arg: (m) => 4 - Math.trunc((m / 10) * 4) },
  SolarizeIncreasing: { op: solarize, arg: (m) => 256 - Math.trunc((m / 10) * 256) },
  SolarizeAdd: { op: solarizeAdd, arg: (m) => Math.trunc((m / 10) * 110) },
  ColorIncreasing: { op: color, arg: enhanceInc },
  ContrastIncreasing: { op: contrast, arg: enhanceInc },
  BrightnessIncreasing: { op: brightness, arg: enhanceInc },
  SharpnessIncreasing: { op: sharpness, arg: enhanceInc },
  ShearX: { op: shearX, arg: (m, r) => sign((m / 10) * 0.3, r) },
  ShearY: { op: shearY, arg: (m, r) => sign((m / 10) * 0.3, r) },
  TranslateXRel: { op: translateXRel, arg: (m, r) => sign((m / 10) * 0.45, r) },
  TranslateYRel: { op: translateYRel, arg: (m, r) => sign((m / 10) * 0.45, r) },
};

export interface RandAugmentOptions {
  magnitude?: number;
  numOps?: number;
  magnitudeStd?: number;
}

/** Apply the chosen ops to every frame (shared arguments); returns new frames. */
function applyToClip(clip: ClipFrames, chosen: { op: Op; arg: number }[]): ClipFrames {
  if (chosen.length === 0) return clip;
  const fb = clip.height * clip.width * 3;
  const T = clip.frameOffsets.length;
  const data = new Uint8Array(T * fb);
  for (let t = 0; t < T; t++) {
    let img: Uint8Array = clip.data.subarray(clip.frameOffsets[t], clip.frameOffsets[t] + fb);
    for (const c of chosen) img = c.op(img, clip.height, clip.width, c.arg);
    data.set(img, t * fb);
  }
  return { data, frameOffsets: Array.from({ length: T }, (_, t) => t * fb), height: clip.height, width: clip.width };
}

/** DATA-08: 4 ops with replacement, each fires with p = 0.5, magnitude N(7, 0.5) clipped to [0, 10]. */
export function videoRandAugment(clip: ClipFrames, rng: Rng, o: RandAugmentOptions = {}): ClipFrames {
  const names = Object.keys(RAND_INCREASING_OPS);
  const m0 = o.magnitude ?? 7;
  const std = o.magnitudeStd ?? 0.5;
  const chosen: { op: Op; arg: number }[] = [];
  for (let i = 0; i < (o.numOps ?? 4); i++) {
    const def = RAND_INCREASING_OPS[names[Math.floor(rng.random() * names.length)]];
    if (rng.random() >= 0.5) continue;
    const m = Math.min(10, Math.max(0, rng.gauss(m0, std)));
    chosen.push({ op: def.op, arg: def.arg(m, rng) });
  }
  return applyToClip(clip, chosen);
}

// AutoAugment "original" (DATA-11): the published ImageNet policy (arXiv 1805.09501) as timm's
// auto_augment_policy_original lists it, which the original's image probe asks for
// (auto_augment='original'): [op, probability, magnitude] pairs.
export const ORIGINAL_POLICY: [string, number, number][][] = [
  [['PosterizeOriginal', 0.4, 8], ['Rotate', 0.6, 9]],
  [['Solarize', 0.6, 5], ['AutoContrast', 0.6, 5]],
  [['Equalize', 0.8, 8], ['Equalize', 0.6, 3]],
  [['PosterizeOriginal', 0.6, 7], ['PosterizeOriginal', 0.6, 6]],
  [['Equalize', 0.4, 7], ['Solarize', 0.2, 4]],
  [['Equalize', 0.4, 4], ['Rotate', 0.8, 8]],
  [['Solarize', 0.6, 3], ['Equalize', 0.6, 7]],
  [['PosterizeOriginal', 0.8, 5], ['Equalize', 1.0, 2]],
  [['Rotate', 0.2, 3], ['Solarize', 0.6, 8]],
  [['Equalize', 0.6, 8], ['PosterizeOriginal', 0.4, 6]],
  [['Rotate', 0.8, 8], ['Color', 0.4, 0]],
  [['Rotate', 0.4, 9], ['Equalize', 0.6, 2]],
  [['Equalize', 0.0, 7], ['Equalize', 0.8, 8]],
  [['Invert', 0.6, 4], ['Equalize', 1.0, 8]],
  [['Color', 0.6, 4], ['Contrast', 1.0, 8]],
  [['Rotate', 0.8, 8], ['Color', 1.0, 2]],
  [['Color', 0.8, 8], ['Solarize', 0.8, 7]],
  [['Sharpness', 0.4, 7], ['Invert', 0.6, 8]],
  [['ShearX', 0.6, 5], ['Equalize', 1.0, 9]],
  [['Color', 0.4, 0], ['Equalize', 0.6, 3]],
  [['Equalize', 0.4, 7], ['Solarize', 0.2, 4]],
  [['Solarize', 0.6, 5], ['AutoContrast', 0.6, 5]],
  [['Invert', 0.6, 4], ['Equalize', 1.0, 8]],
  [['Color', 0.6, 4], ['Contrast', 1.0, 8]],
  [['Equalize', 0.8, 8], ['Equalize', 0.6, 3]],
];

const enhanceOrig = (m: number) => (m / 10) * 1.8 + 0.1;
export const ORIGINAL_OPS: Record<string, OpDef> = {
  AutoContrast: RAND_INCREASING_OPS.AutoContrast,
  Equalize: RAND_INCREASING_OPS.Equalize,
  Invert: RAND_INCREASING_OPS.Invert,
  Rotate: RAND_INCREASING_OPS.Rotate,
  ShearX: RAND_INCREASING_OPS.ShearX,
  PosterizeOriginal: { op: posterize, arg: (m) => Math.trunc((m / 10) * 4) + 4 },
  Solarize: { op: solarize, arg: (m) => Math.trunc((m / 10) * 256) },
  Color: { op: color, arg: enhanceOrig },
  Contrast: { op: contrast, arg: enhanceOrig },
  Sharpness: { op: sharpness, arg: enhanceOrig },
};

// timm fills what rotate and shear uncover with the normalisation mean in 0..255 (img_mean, round(255 x)).
export const IMAGENET_FILL: readonly [number, number, number] = [124, 116, 104];

/** DATA-11 AutoAugment "original": one random sub-policy of two ops, each with its probability. */
export function imageAutoAugment(img: Uint8Array, h: number, w: number, rng: Rng): Uint8Array {
  const sub = ORIGINAL_POLICY[Math.floor(rng.random() * ORIGINAL_POLICY.length)];
  let out = img;
  for (const [name, p, m] of sub) {
    if (rng.random() >= p) continue;
    const def = ORIGINAL_OPS[name];
    out = def.op(out, h, w, def.arg(m, rng), IMAGENET_FILL);
  }
  return out;
}
