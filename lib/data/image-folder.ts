// DATA-11: class-per-subfolder image datasets, decoded with ffmpeg, timm-style transforms.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeVideos } from './ffmpeg.js';
import { imageAutoAugment } from './augment.js';
import { Purpose, Rng, roundHalfEven } from './rng.js';
import { computeTaps, resampleFrame, type Taps } from './resample.js';
import { NORM255, randomErase, sampleCropBox } from './transforms.js';
import type { SampleFailure } from './batch-builder.js';

const IMAGE_EXT = /\.(jpe?g|png|bmp|webp|tiff?|ppm|pgm)$/i;

export interface ImageFolderIndex {
  paths: string[];
  labels: Int32Array;
  classes: string[];
}

/** The image files under dir, at any depth, sorted by path (hidden entries skipped). */
export function listImages(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      // Links are followed, as torchvision's os.walk(followlinks=True).
      const dir = e.isDirectory() || (e.isSymbolicLink() && statSync(p, { throwIfNoEntry: false })?.isDirectory());
      if (dir) walk(p);
      else if (IMAGE_EXT.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** root/<class>/.../<image>, at any depth; classes sorted by name -> labels 0..K-1 (torchvision ImageFolder walks each class folder whole). */
export function scanImageFolder(root: string): ImageFolderIndex {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch (e) {
    throw new Error(`${root}: cannot read image folder: ${(e as Error).message}`);
  }
  const classes = entries.filter((d) => statSync(join(root, d)).isDirectory()).sort();
  if (classes.length === 0) throw new Error(`${root}: no class subfolders found`);
  const paths: string[] = [];
  const labels: number[] = [];
  classes.forEach((c, k) => {
    for (const p of listImages(join(root, c))) {
      paths.push(p);
      labels.push(k);
    }
  });
  if (paths.length === 0) throw new Error(`${root}: class subfolders contain no images`);
  return { paths, labels: Int32Array.from(labels), classes };
}

export interface ImageDatasetSpec {
  paths: string[];
  labels: Int32Array;
  cropSize: number;
  training: boolean;
  seed: number;
  scale: [number, number];
  ratio: [number, number];
  autoAugment: boolean;
  reprob: number;
  flip: boolean;
  shortSideScale: number;
  maxAttemptsPerSample: number;
  videosPerProcess: number;
  procsPerWorker: number;
}

export interface BuiltImageBatch {
  batchIndex: number;
  images: Float32Array;
  shape: number[];
  labels: Int32Array;
  sampleIndices: Int32Array;
  paths: string[];
  failures: SampleFailure[];
  decoded: number;
}

function subTaps(t: Taps, start: number, n: number): Taps {
  return { k: t.k, idx: t.idx.slice(start * t.k, (start + n) * t.k), w: t.w.slice(start * t.k, (start + n) * t.k) };
}

/**
 * DATA-11 val: the short side to int(S·shortSideScale) (bilinear, antialiased as PIL), centre crop S,
 * normalised; one RGB uint8 H x W image into out[3, S, S] at offset.
 */
export function evalImageTransform(img: Uint8Array, H: number, W: number, S: number, shortSideScale: number, out: Float32Array, offset: number, tmp = new Float32Array(S * W * 3)): void {
  const target = Math.trunc(S * shortSideScale);
  const newH = H <= W ? target : Math.trunc((target * H) / W);
  const newW = H <= W ? Math.trunc((target * W) / H) : target;
  const oy = Math.trunc(roundHalfEven((newH - S) / 2));
  const ox = Math.trunc(roundHalfEven((newW - S) / 2));
  const ty = subTaps(computeTaps(0, H, newH, 'bilinear', true), oy, S);
  const tx = subTaps(computeTaps(0, W, newW, 'bilinear', true), ox, S);
  resampleFrame(img, 0, W, ty, tx, S, S, out, offset, S * S, NORM255, tmp, false, true);
}

/** EVAL-07: images [B, C, H, W] as static clips [B, C, T, H, W], each frame the image. */
export function staticClips(images: Float32Array, B: number, C: number, H: number, W: number, T: number): Float32Array {
  const plane = H * W;
  const clips = new Float32Array(B * C * T * plane);
  for (let i = 0; i < B * C; i++) {
    const src = images.subarray(i * plane, (i + 1) * plane);
    for (let t = 0; t < T; t++) clips.set(src, (i * T + t) * plane);
  }
  return clips;
}

export class ImageBatchBuilder {
  constructor(private readonly spec: ImageDatasetSpec) {}

  /** One image (RGB uint8 H x W) into out[3, S, S] at offset. */
  transformImage(img: Uint8Array, H: number, W: number, rng: Rng, out: Float32Array, offset: number): void {
    const S = this.spec.cropSize;
    const tmp = new Float32Array(S * W * 3);
    if (this.spec.training) {
      const b = sampleCropBox(H, W, this.spec.scale, this.spec.ratio, rng);
      const flip = this.spec.flip && rng.random() < 0.5;
      if (this.spec.autoAugment) {
        // crop+resize (bicubic, PIL-style antialias) to uint8, flip, AutoAugment, then normalise
        const ty = computeTaps(b.top, b.height, S, 'bicubic', true);
        const tx = computeTaps(b.left, b.width, S, 'bicubic', true);
        const planes = new Float32Array(3 * S * S);
        resampleFrame(img, 0, W, ty, tx, S, S, planes, 0, S * S, { mean: [0, 0, 0], std: [1, 1, 1] }, tmp, flip, true);
        let u8 = new Uint8Array(S * S * 3);
        for (let i = 0; i < S * S; i++) for (let c = 0; c < 3; c++) u8[i * 3 + c] = Math.round(planes[c * S * S + i]);
        u8 = imageAutoAugment(u8, S, S, rng) as Uint8Array<ArrayBuffer>;
        const id = computeTaps(0, S, S, 'bilinear', false);
        resampleFrame(u8, 0, S, id, id, S, S, out, offset, S * S, NORM255, new Float32Array(S * S * 3), false);
      } else {
        const ty = computeTaps(b.top, b.height, S, 'bicubic', true);
        const tx = computeTaps(b.left, b.width, S, 'bicubic', true);
        resampleFrame(img, 0, W, ty, tx, S, S, out, offset, S * S, NORM255, tmp, flip, true);
      }
      randomErase(out, offset, 1, S, this.spec.reprob, rng);
    } else {
      evalImageTransform(img, H, W, S, this.spec.shortSideScale, out, offset, tmp);
    }
  }

  async build(batchIndex: number, indices: ArrayLike<number>): Promise<BuiltImageBatch> {
    const spec = this.spec;
    const B = indices.length;
    const S = spec.cropSize;
    const images = new Float32Array(B * 3 * S * S);
    const labels = new Int32Array(B);
    const used = new Int32Array(B);
    const paths = new Array<string>(B);
    const failures: SampleFailure[] = [];
    let decoded = 0;
    let pending = Array.from({ length: B }, (_, j) => ({ j, index: indices[j], attempt: 0 }));
    const n = spec.paths.length;
    while (pending.length > 0) {
      const next: typeof pending = [];
      const per = Math.max(1, Math.min(spec.videosPerProcess, Math.ceil(pending.length / spec.procsPerWorker)));
      const groups: (typeof pending)[] = [];
      for (let i = 0; i < pending.length; i += per) groups.push(pending.slice(i, i + per));
      const results = await Promise.all(groups.map((g) => decodeVideos(g.map((s) => ({ path: spec.paths[s.index], maxFrames: 1 })))));
      groups.forEach((g, gi) =>
        g.forEach((s, k) => {
          const r = results[gi][k];
          if (!(r instanceof Error)) {
            try {
              const rng = new Rng(spec.seed, Purpose.transform, batchIndex, s.j, s.attempt);
              this.transformImage(r.data, r.height, r.width, rng, images, s.j * 3 * S * S);
              labels[s.j] = spec.labels[s.index];
              used[s.j] = s.index;
              paths[s.j] = spec.paths[s.index];
              decoded++;
              return;
            } catch (e) {
              failures.push({ index: s.index, path: spec.paths[s.index], reason: (e as Error).message });
            }
          } else failures.push({ index: s.index, path: spec.paths[s.index], reason: r.message });
          const attempt = s.attempt + 1;
          if (attempt > spec.maxAttemptsPerSample)
            throw Object.assign(new Error(`data: batch ${batchIndex} slot ${s.j}: ${attempt} consecutive images failed to load (last: ${spec.paths[s.index]})`), { failures });
          const r2 = n === 1 ? s.index : new Rng(spec.seed, Purpose.replace, batchIndex, s.j, attempt).randint(0, n - 2);
          next.push({ j: s.j, index: n === 1 ? r2 : r2 >= s.index ? r2 + 1 : r2, attempt });
        }),
      );
      pending = next;
    }
    return { batchIndex, images, shape: [B, 3, S, S], labels, sampleIndices: used, paths, failures, decoded };
  }
}

