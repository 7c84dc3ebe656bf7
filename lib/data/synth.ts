// `vjepa-data synth`: a labelled toy video set in the spirit of Something-Something v2. Each
// video shows a textured square moving (with wrap-around) in one of K directions over a
// textured background. Start position, speed and textures are random and class-independent,
// so a single frame says nothing about the label; only temporal order does.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeFrames } from './encode.js';
import { Rng } from './rng.js';
import type { SyntheticDataConfig } from '../config/common.js';

export type SynthScene = 'square' | 'pan';
export const SYNTH_SCENES: readonly SynthScene[] = ['square', 'pan'];

export interface SynthOptions {
  /** training videos */
  videos: number;
  /** validation videos (default: half of `videos`) */
  valVideos?: number;
  classes: number;
  frames: number;
  width: number;
  height: number;
  fps?: number;
  seed?: number;
  /** what moves: a textured square over a static background, or the camera over a textured world */
  scene?: SynthScene;
  /** parallel encoders (default: cores) */
  concurrency?: number;
  log?: (m: string) => void;
}

export interface SynthDataset {
  dir: string;
  trainCsv: string;
  valCsv: string;
  numClasses: number;
}

function smoothNoise(rng: Rng, h: number, w: number, cell: number, lo: number, hi: number): Float32Array {
  const gh = Math.ceil(h / cell) + 2;
  const gw = Math.ceil(w / cell) + 2;
  const grid = new Float32Array(gh * gw * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.uniform(lo, hi);
  const out = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    const gy = y / cell;
    const y0 = Math.floor(gy);
    const fy = gy - y0;
    for (let x = 0; x < w; x++) {
      const gx = x / cell;
      const x0 = Math.floor(gx);
      const fx = gx - x0;
      for (let c = 0; c < 3; c++) {
        const g = (yy: number, xx: number) => grid[(yy * gw + xx) * 3 + c];
        out[(y * w + x) * 3 + c] = (1 - fy) * ((1 - fx) * g(y0, x0) + fx * g(y0, x0 + 1)) + fy * ((1 - fx) * g(y0 + 1, x0) + fx * g(y0 + 1, x0 + 1));
      }
    }
  }
  return out;
}

/** Value noise on a torus of `size`² pixels (bilinear between `cells`² random RGB values). */
function periodicNoise(rng: Rng, size: number, cells: number, lo: number, hi: number): Float32Array {
  const grid = new Float32Array(cells * cells * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.uniform(lo, hi);
  const out = new Float32Array(size * size * 3);
  const step = cells / size;
  for (let y = 0; y < size; y++) {
    const gy = y * step;
    const y0 = Math.floor(gy);
    const fy = gy - y0;
    const y1 = (y0 + 1) % cells;
    for (let x = 0; x < size; x++) {
      const gx = x * step;
      const x0 = Math.floor(gx);
      const fx = gx - x0;
      const x1 = (x0 + 1) % cells;
      for (let c = 0; c < 3; c++) {
        const g = (yy: number, xx: number) => grid[(yy * cells + xx) * 3 + c];
        out[(y * size + x) * 3 + c] = (1 - fy) * ((1 - fx) * g(y0, x0) + fx * g(y0, x1)) + fy * ((1 - fx) * g(y1, x0) + fx * g(y1, x1));
      }
    }
  }
  return out;
}

/**
 * The camera pans over a periodic world (two octaves of value noise under flat discs and squares) in
 * one of K directions. Every frame has the same statistics whatever the label, so no frame, and
 * no linear function of a frame pair, tells the direction: it takes matching content over time.
 */
function panVideoFrames(label: number, classes: number, frames: number, width: number, height: number, rng: Rng): Uint8Array {
  const m = Math.min(width, height);
  const size = 2 * Math.max(width, height);
  const world = new Float32Array(size * size * 3);
  // No low frequencies: a clip's mean colour must not be what the encoder spends itself on.
  for (const [cells, amp] of [[8, 100], [20, 70]] as const) {
    const n = periodicNoise(rng, size, cells, -amp / 2, amp / 2);
    for (let i = 0; i < world.length; i++) world[i] += n[i];
  }
  const angle = (2 * Math.PI * label) / classes + rng.uniform(-0.2, 0.2);
  const speed = rng.uniform(1.0, 2.0) * (m / 96);
  let px = rng.uniform(0, size);
  let py = rng.uniform(0, size);
  const fb = width * height * 3;
  const out = new Uint8Array(frames * fb);
  for (let f = 0; f < frames; f++) {
    const base = f * fb;
    // bilinear sampling, so sub-pixel motion is smooth
    for (let y = 0; y < height; y++) {
      const wy = py + y;
      const y0 = Math.floor(wy);
      const fy = wy - y0;
      const r0 = ((y0 % size) + size) % size;
      const r1 = (r0 + 1) % size;
      for (let x = 0; x < width; x++) {
        const wx = px + x;
        const x0 = Math.floor(wx);
        const fx = wx - x0;
        const c0 = ((x0 % size) + size) % size;
        const c1 = (c0 + 1) % size;
        const o = base + (y * width + x) * 3;
        for (let c = 0; c < 3; c++) {
          const v =
            (1 - fy) * ((1 - fx) * world[(r0 * size + c0) * 3 + c] + fx * world[(r0 * size + c1) * 3 + c]) +
            fy * ((1 - fx) * world[(r1 * size + c0) * 3 + c] + fx * world[(r1 * size + c1) * 3 + c]);
          out[o + c] = Math.max(0, Math.min(255, Math.round(128 + v)));
        }
      }
    }
    px += Math.cos(angle) * speed;
    py += Math.sin(angle) * speed;
  }
  return out;
}

/** Frames of one synthetic video, RGB uint8 [F, H, W, 3]. */
export function synthVideoFrames(label: number, classes: number, frames: number, width: number, height: number, rng: Rng, scene: SynthScene = 'square'): Uint8Array {
  if (scene === 'pan') return panVideoFrames(label, classes, frames, width, height, rng);
  if (scene !== 'square') throw new Error(`synth: unknown scene '${scene}' (expected ${SYNTH_SCENES.join(' or ')})`);
  const bg = smoothNoise(rng, height, width, 12, 40, 160);
  const side = Math.max(4, Math.round(Math.min(width, height) * rng.uniform(0.22, 0.32)));
  const tex = smoothNoise(rng, side, side, 3, 60, 255);
  const angle = (2 * Math.PI * label) / classes + rng.uniform(-0.15, 0.15);
  const speed = rng.uniform(1.2, 2.2) * (Math.min(width, height) / 96);
  const dx = Math.cos(angle) * speed;
  const dy = Math.sin(angle) * speed;
  let px = rng.uniform(0, width);
  let py = rng.uniform(0, height);
  const fb = width * height * 3;
  const out = new Uint8Array(frames * fb);
  for (let f = 0; f < frames; f++) {
    const base = f * fb;
    for (let i = 0; i < fb; i++) out[base + i] = bg[i];
    const ox = Math.round(px);
    const oy = Math.round(py);
    for (let y = 0; y < side; y++) {
      const yy = (((oy + y) % height) + height) % height;
      for (let x = 0; x < side; x++) {
        const xx = (((ox + x) % width) + width) % width;
        const edge = x === 0 || y === 0 || x === side - 1 || y === side - 1;
        const o = base + (yy * width + xx) * 3;
        const t = (y * side + x) * 3;
        out[o] = edge ? 250 : tex[t];
        out[o + 1] = edge ? 250 : tex[t + 1];
        out[o + 2] = edge ? 250 : tex[t + 2];
      }
    }
    px += dx;
    py += dy;
  }
  return out;
}

async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limit, n)) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** Write train/ and val/ videos plus train.csv and val.csv (absolute paths, `path label`). */
export async function makeSynthDataset(dir: string, o: SynthOptions): Promise<SynthDataset> {
  const root = resolve(dir);
  if (!(o.classes >= 2)) throw new Error(`synth: classes must be >= 2 (got ${o.classes})`);
  if (!(o.videos >= 1)) throw new Error(`synth: videos must be >= 1 (got ${o.videos})`);
  if (!(o.frames >= 1)) throw new Error(`synth: frames must be >= 1 (got ${o.frames})`);
  if (o.width % 2 || o.height % 2 || o.width < 8 || o.height < 8) {
    throw new Error(`synth: size ${o.width}x${o.height} must be even and at least 8x8 (H.264 yuv420p)`);
  }
  const seed = o.seed ?? 0;
  const splits: [string, number, number][] = [
    ['train', o.videos, 0],
    ['val', o.valVideos ?? Math.max(1, Math.round(o.videos / 2)), 1],
  ];
  const t0 = Date.now();
  for (const [split, n, salt] of splits) {
    mkdirSync(join(root, split), { recursive: true });
    const lines = new Array<string>(n);
    await pool(n, o.concurrency ?? availableParallelism(), async (i) => {
      const label = i % o.classes;
      const rng = new Rng(seed, salt, i);
      const frames = synthVideoFrames(label, o.classes, o.frames, o.width, o.height, rng, o.scene ?? 'square');
      const file = join(root, split, `${split}_${String(i).padStart(5, '0')}_c${label}.mp4`);
      await encodeFrames(frames, file, { width: o.width, height: o.height, fps: o.fps ?? 25, codec: 'h264', gop: 8 });
      lines[i] = `${file} ${label}`;
    });
    writeFileSync(join(root, `${split}.csv`), lines.join('\n') + '\n');
  }
  o.log?.(`synth: wrote ${splits[0][1]} train + ${splits[1][1]} val videos to ${root} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { dir: root, trainCsv: join(root, 'train.csv'), valCsv: join(root, 'val.csv'), numClasses: o.classes };
}

const MARKER = 'synth.json';

/**
 * Creates the synthetic dataset a config's `data.synthetic` describes, for the `missing` index
 * CSVs. Only the set's own train.csv and val.csv may be missing: any other is a typo, and
 * training or scoring on synthetic videos instead would mislead. `key` names the config key.
 */
export async function synthesizeMissing(missing: string[], syn: SyntheticDataConfig, key: string, log: (s: string) => void): Promise<SynthDataset> {
  const made = new Set([resolve(syn.dir, 'train.csv'), resolve(syn.dir, 'val.csv')]);
  const foreign = missing.filter((p) => !made.has(resolve(p)));
  if (foreign.length > 0) throw new Error(`${key}: ${foreign.join(', ')} not found (data.synthetic creates only ${join(syn.dir, 'train.csv')} and val.csv)`);
  log(`data: creating the synthetic dataset in ${syn.dir} (${syn.videos} videos, ${syn.classes} classes)…`);
  return ensureSynthDataset(syn.dir, { videos: syn.videos, classes: syn.classes, frames: syn.frames, width: syn.size, height: syn.size, fps: syn.fps, seed: syn.seed, scene: syn.scene, log });
}

/** Create the synthetic dataset under `dir` unless one with the same options is already there. */
export async function ensureSynthDataset(dir: string, o: SynthOptions): Promise<SynthDataset> {
  const root = resolve(dir);
  const key = JSON.stringify({ videos: o.videos, valVideos: o.valVideos ?? null, classes: o.classes, frames: o.frames, width: o.width, height: o.height, fps: o.fps ?? 25, seed: o.seed ?? 0, ...(o.scene && o.scene !== 'square' ? { scene: o.scene } : {}) });
  const marker = join(root, MARKER);
  const ds = { dir: root, trainCsv: join(root, 'train.csv'), valCsv: join(root, 'val.csv'), numClasses: o.classes };
  if (existsSync(marker) && existsSync(ds.trainCsv) && existsSync(ds.valCsv)) {
    try {
      if (readFileSync(marker, 'utf8').trim() === key) return ds;
    } catch {
      // fall through and regenerate
    }
  }
  await makeSynthDataset(root, o);
  writeFileSync(marker, key + '\n');
  return ds;
}
