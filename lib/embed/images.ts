// Eval images for vjepa-embed: decoded by ffmpeg, DATA-11's val transform (short side to int(S·256/224),
// centre crop S), in argument order. A video model sees each image as a static clip of its frame count
// (EVAL-07); the image model (MOD-02) takes it as it is. An image that cannot be decoded is an error
// naming it, as for --video.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeVideos } from '../data/ffmpeg.js';
import { evalImageTransform, listImages, staticClips } from '../data/image-folder.js';

export interface EvalImageBatch {
  /** [b, 3, S, S] (frames 1) or [b, 3, T, S, S], normalised */
  data: Float32Array;
  shape: number[];
  paths: string[];
  /** index of the first image in the whole list */
  start: number;
}

/** --image arguments as files: a folder gives the images under it, sorted by path; a missing one is named. */
export function imageFiles(args: readonly string[]): string[] {
  return args.flatMap((a) => {
    const p = resolve(a);
    let dir: boolean;
    try {
      dir = statSync(p).isDirectory();
    } catch {
      throw new Error(`--image: ${p} does not exist`);
    }
    if (!dir) return [p];
    const found = listImages(p);
    if (found.length === 0) throw new Error(`--image: ${p} holds no image files (.jpg, .png, .webp, .bmp, .tif, .ppm, .pgm)`);
    return found;
  });
}

// ffmpeg start-up dominates a still image: several go through one process, two processes at a time.
const PER_PROCESS = 8;
const PROCESSES = 2;

export async function* evalImageBatches(files: readonly string[], o: { cropSize: number; frames: number; batchSize: number }): AsyncGenerator<EvalImageBatch> {
  const S = o.cropSize;
  const paths = files.map((f) => resolve(f)); // folders are expanded by imageFiles first
  for (let start = 0; start < paths.length; start += o.batchSize) {
    const batch = paths.slice(start, start + o.batchSize);
    const images = new Float32Array(batch.length * 3 * S * S);
    for (let i = 0; i < batch.length; i += PER_PROCESS * PROCESSES) {
      const groups: string[][] = [];
      for (let g = i; g < Math.min(batch.length, i + PER_PROCESS * PROCESSES); g += PER_PROCESS) groups.push(batch.slice(g, g + PER_PROCESS));
      const decoded = (await Promise.all(groups.map((g) => decodeVideos(g.map((path) => ({ path, maxFrames: 1 })))))).flat();
      decoded.forEach((r, k) => {
        const path = batch[i + k];
        if (r instanceof Error) throw new Error(`${path}: cannot decode the image: ${r.message}`);
        if (r.count < 1) throw new Error(`${path}: no image in the file`);
        evalImageTransform(r.data, r.height, r.width, S, 256 / 224, images, (i + k) * 3 * S * S);
      });
    }
    const b = batch.length;
    yield o.frames === 1
      ? { data: images, shape: [b, 3, S, S], paths: batch, start }
      : { data: staticClips(images, b, 3, S, S, o.frames), shape: [b, 3, o.frames, S, S], paths: batch, start };
  }
}
