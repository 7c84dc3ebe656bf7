import { Rng } from './rng.js';

/** numpy.linspace(start, stop, num), endpoint inclusive. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num <= 0) return [];
  if (num === 1) return [start];
  const div = num - 1;
  const step = (stop - start) / div;
  const out = new Array<number>(num);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

export interface ClipSamplingOptions {
  framesPerClip: number;
  frameStep: number;
  numClips: number;
  /** seconds; when set, frameStep = int(clipDuration * fps / framesPerClip) per video */
  clipDuration?: number | null;
  randomClipSampling: boolean;
  allowClipOverlap: boolean;
}

/**
 * The effective frame step for a video (DATA-03, first bullet). A video whose frame rate is unknown
 * keeps frameStep, as the original does.
 */
export function effectiveFrameStep(opts: ClipSamplingOptions, fps: number): number {
  if (opts.clipDuration === undefined || opts.clipDuration === null || !(fps > 0)) return opts.frameStep;
  // int() truncates; a step of 0 would make an empty span, so we keep at least 1
  return Math.max(1, Math.trunc((opts.clipDuration * fps) / opts.framesPerClip));
}

function clampTrunc(values: number[], lo: number, hi: number, add: number): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.min(Math.max(values[i], lo), hi);
    out[i] = Math.trunc(v) + add;
  }
  return out;
}

/**
 * DATA-03 clip indices for a video of `numFrames` frames: one Int32Array of framesPerClip
 * indices per clip. Cases A/B/C as in the spec. `rng` is used only in case A with random
 * sampling. Throws when the partition is empty (P = 0) without overlap, which the original lets
 * through as invalid indices; with overlap (case C) P is not used, so such a video is sampled as
 * the original samples it.
 */
export function sampleClipIndices(numFrames: number, opts: ClipSamplingOptions, rng: Rng | null, fps = 0): Int32Array[] {
  const fpc = opts.framesPerClip;
  const fs = effectiveFrameStep(opts, fps);
  const span = fpc * fs;
  const L = numFrames;
  const P = Math.floor(L / opts.numClips);
  if (L <= 0) throw new Error('video has no frames');
  if (P <= 0 && !opts.allowClipOverlap) throw new Error(`video too short: ${L} frames for ${opts.numClips} clips`);
  const clips: Int32Array[] = [];
  for (let i = 0; i < opts.numClips; i++) {
    if (P > span) {
      // Case A: end drawn in [span, P-1]; the partition's last frame is never used (spec ⚠)
      let e = span;
      if (opts.randomClipSampling) {
        if (!rng) throw new Error('sampleClipIndices: random clip sampling needs an rng');
        e = rng.randint(span, P - 1);
      }
      const s = e - span;
      clips.push(clampTrunc(linspace(s, e, fpc), s, e - 1, i * P));
    } else if (!opts.allowClipOverlap) {
      // Case B: deterministic, padded with the partition's last frame
      const m = Math.floor(P / fs);
      const v = linspace(0, P, m);
      while (v.length < fpc) v.push(P);
      clips.push(clampTrunc(v, 0, P - 1, i * P));
    } else {
      // Case C: overlapping segments shifted evenly over the whole video
      const q = Math.min(span, L) - 1;
      const m = Math.floor(q / fs);
      const v = linspace(0, q, m);
      while (v.length < fpc) v.push(q);
      const shift = L > span && opts.numClips > 1 ? Math.floor((L - span) / (opts.numClips - 1)) : 0;
      clips.push(clampTrunc(v, 0, Math.max(q - 1, 0), i * shift));
    }
  }
  return clips;
}
