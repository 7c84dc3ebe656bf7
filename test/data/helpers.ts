import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrames, type VideoCodec } from '../../lib/data/encode.js';
import { NORM255, type ClipFrames } from '../../lib/data/transforms.js';

export function tempDir(name: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `vjepa-${name}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// Frames that encode their own index as 8 bits in a 4x2 grid of big blocks: on = white,
// off = blue, so both the bit and the channel order survive lossy coding and chroma subsampling.
const COLS = 4;
const ROWS = 2;

export function indexFrames(count: number, width: number, height: number, offset = 0): Uint8Array {
  const fb = width * height * 3;
  const out = new Uint8Array(count * fb);
  for (let f = 0; f < count; f++) {
    const v = (f + offset) & 255;
    for (let y = 0; y < height; y++) {
      const by = Math.min(ROWS - 1, Math.floor((y * ROWS) / height));
      for (let x = 0; x < width; x++) {
        const bx = Math.min(COLS - 1, Math.floor((x * COLS) / width));
        const bit = (v >> (by * COLS + bx)) & 1;
        const o = f * fb + (y * width + x) * 3;
        out[o] = bit ? 255 : 0;
        out[o + 1] = bit ? 255 : 0;
        out[o + 2] = bit ? 255 : 200;
      }
    }
  }
  return out;
}

/** Read the index back from a pixel accessor px(x, y, channel) -> 0..255. */
export function readIndex(px: (x: number, y: number, c: number) => number, width: number, height: number): number {
  let v = 0;
  for (let by = 0; by < ROWS; by++) {
    for (let bx = 0; bx < COLS; bx++) {
      const cx = Math.floor(((bx + 0.5) * width) / COLS);
      const cy = Math.floor(((by + 0.5) * height) / ROWS);
      const r = px(cx, cy, 0);
      const b = px(cx, cy, 2);
      if (b < 128) throw new Error(`block (${bx},${by}) lost its blue channel: ${b}`);
      if (r > 128) v |= 1 << (by * COLS + bx);
    }
  }
  return v;
}

export function readIndexRgb(data: Uint8Array, frame: number, width: number, height: number): number {
  const fb = width * height * 3;
  return readIndex((x, y, c) => data[frame * fb + (y * width + x) * 3 + c], width, height);
}

/** Read the index from a normalised [3, T, S, S] clip at `offset`, frame t. */
export function readIndexClip(clips: Float32Array, offset: number, T: number, S: number, t: number): number {
  return readIndex((x, y, c) => clips[offset + (c * T + t) * S * S + y * S + x] * NORM255.std[c] + NORM255.mean[c], S, S);
}

export async function makeIndexVideo(path: string, count: number, width: number, height: number, codec: VideoCodec = 'h264-lossless', extraArgs?: string[]): Promise<void> {
  await encodeFrames(indexFrames(count, width, height), path, { width, height, codec, gop: 8, extraArgs });
}

/**
 * A decoded clip as the batch builder hands it to the transforms: frames stored in reverse order after one junk
 * frame (filled with `junk`) and reached through frameOffsets, so a transform that ignores them reads wrong data.
 */
export function clipFrames(T: number, H: number, W: number, px: (t: number, y: number, x: number, c: number) => number, junk = 77): ClipFrames {
  const fb = H * W * 3;
  const data = new Uint8Array((T + 1) * fb).fill(junk);
  const frameOffsets: number[] = [];
  for (let t = 0; t < T; t++) {
    const base = (T - t) * fb;
    frameOffsets.push(base);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) data[base + (y * W + x) * 3 + c] = px(t, y, x, c);
  }
  return { data, frameOffsets, height: H, width: W };
}
