// Builds one batch: decode (grouped ffmpeg processes), DATA-03 sampling, transforms, and
// DATA-02 failure replacement. Runs inside a worker thread; a pure function of
// (dataset, options, batch index, sample indices), so any worker gives the same batch.
import { statSync } from 'node:fs';
import { decodeVideos, probeVideoFull, type DecodeRequest, type DecodedVideo } from './ffmpeg.js';
import { Purpose, Rng } from './rng.js';
import { isCurrent, metaOf, type VideoMeta } from './meta-cache.js';
import { chooseSeek } from './seek.js';
import { effectiveFrameStep, sampleClipIndices, type ClipSamplingOptions } from './sampling.js';
import { evalClipTransform, trainClipTransform, type VideoTransformOptions } from './transforms.js';

export type { VideoMeta };

export interface VideoDatasetSpec {
  paths: string[];
  labels: Int32Array;
  sampling: ClipSamplingOptions;
  cropSize: number;
  transform: VideoTransformOptions;
  seed: number;
  filterShortVideos: boolean;
  /** bytes; larger files are unloadable (DATA-02: file size, not duration) */
  filterLongVideos: number;
  /** bytes; smaller files are unloadable (DATA-02: 1024) */
  minFileBytes: number;
  /** resize in ffmpeg so the short side is this (null: native frames, as the original) */
  decodeShortSide: number | null;
  /** files up to this size are decoded whole on first sight (their frame count comes for free) */
  wholeDecodeMaxBytes: number;
  videosPerProcess: number;
  procsPerWorker: number;
  /** start each decode at the keyframe before the clip (checked; see seek.ts) */
  seek: boolean;
  maxAttemptsPerSample: number;
}

export interface SampleFailure {
  index: number;
  path: string;
  reason: string;
}

export interface BuiltBatch {
  batchIndex: number;
  clips: Float32Array;
  shape: number[];
  labels: Int32Array;
  sampleIndices: Int32Array;
  paths: string[];
  failures: SampleFailure[];
  decoded: number;
  /** decodes started at a keyframe, and how many of those fell back to frame 0 */
  seeked: number;
  seekFallbacks: number;
  /** videos whose frames this batch counted (by a whole decode or a counting pass) */
  counted: number;
  newMeta: [number, VideoMeta][];
}

/** The file a video's frames were counted from. */
interface Stamp {
  size: number;
  mtimeMs: number;
}

/**
 * Frames a first-sight whole decode may run to before the video counts as long (then: count the
 * frames and keyframes without output, and decode the clip from its keyframe). Measured on 320x240:
 * at 72 frames both ways cost the same; at 750 the whole decode took 1.5 s and 173 MB of RGB, the
 * count and a seeked clip 0.38 s. So: twice what the clips span, within [64, 1024].
 */
function wholeDecodeCap(sp: ClipSamplingOptions): number {
  return Math.min(1024, Math.max(64, 2 * sp.framesPerClip * sp.frameStep * sp.numClips));
}

interface Slot {
  j: number;
  index: number;
  attempt: number;
}

async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(runners);
  return out;
}

export function batchShape(spec: VideoDatasetSpec, B: number): number[] {
  const T = spec.sampling.framesPerClip;
  const S = spec.cropSize;
  if (spec.transform.kind === 'train') return [spec.sampling.numClips, B, 3, T, S, S];
  return [spec.sampling.numClips, spec.transform.numViews ?? 1, B, 3, T, S, S];
}

/**
 * Counted videos a builder keeps, the most recently used: the trainer sends every job its videos'
 * counts, so this only saves recounts between batches; unbounded, each worker ended up with its own
 * copy of the whole index's keyframes (1.1 GB per worker for 600k videos of 40 keyframes).
 */
export const KEEP_META = 8192;

export class VideoBatchBuilder {
  private meta = new Map<number, VideoMeta>();

  constructor(private readonly spec: VideoDatasetSpec) {}

  learnMeta(entries: [number, VideoMeta][]): void {
    for (const [i, m] of entries) this.remember(i, m);
  }

  /** Videos whose counts this builder holds (at most KEEP_META). */
  get knownVideos(): number {
    return this.meta.size;
  }

  private remember(i: number, m: VideoMeta): void {
    this.meta.delete(i);
    this.meta.set(i, m);
    if (this.meta.size > KEEP_META) this.meta.delete(this.meta.keys().next().value as number);
  }

  private replacement(batchIndex: number, s: Slot): number {
    const n = this.spec.paths.length;
    if (n === 1) return s.index;
    // a uniformly random OTHER index (DATA-02), keyed by position and attempt
    const r = new Rng(this.spec.seed, Purpose.replace, batchIndex, s.j, s.attempt).randint(0, n - 2);
    return r >= s.index ? r + 1 : r;
  }

  private clipRng(batchIndex: number, s: Slot): Rng {
    return new Rng(this.spec.seed, Purpose.clip, batchIndex, s.j, s.attempt);
  }

  private indicesFor(batchIndex: number, s: Slot, L: number, fps: number): Int32Array[] {
    const sp = this.spec.sampling;
    const span = sp.framesPerClip * effectiveFrameStep(sp, fps);
    if (this.spec.filterShortVideos && L < span) throw new Error(`video too short: ${L} frames < ${span} (filterShortVideos)`);
    if (L < sp.numClips && !sp.allowClipOverlap) throw new Error(`video too short: ${L} frames for ${sp.numClips} clips`);
    return sampleClipIndices(L, sp, this.clipRng(batchIndex, s), fps);
  }

  /**
   * `reuse`: a buffer of the batch's size to write the clips into (every element is written), as a
   * worker passes back one whose batch has been sent: a fresh 77 MB array per ViT-L batch spent more
   * time in page faults than the transforms spent computing.
   */
  async build(batchIndex: number, indices: ArrayLike<number>, reuse?: Float32Array): Promise<BuiltBatch> {
    const spec = this.spec;
    const B = indices.length;
    const shape = batchShape(spec, B);
    const clipFloats = 3 * spec.sampling.framesPerClip * spec.cropSize * spec.cropSize;
    const V = spec.transform.kind === 'eval' ? spec.transform.numViews ?? 1 : 1;
    const size = shape.reduce((a, b) => a * b, 1);
    const clips = reuse && reuse.length === size ? reuse : new Float32Array(size);
    const labels = new Int32Array(B);
    const used = new Int32Array(B);
    const paths = new Array<string>(B);
    const failures: SampleFailure[] = [];
    const newMeta: [number, VideoMeta][] = [];
    let decoded = 0;
    let seeked = 0;
    let seekFallbacks = 0;
    let counted = 0;
    const stamps = new Map<number, Stamp>();

    let pending: Slot[] = Array.from({ length: B }, (_, j) => ({ j, index: indices[j], attempt: 0 }));
    const fail = (s: Slot, reason: string, next: Slot[]) => {
      failures.push({ index: s.index, path: spec.paths[s.index], reason });
      const attempt = s.attempt + 1;
      if (attempt > spec.maxAttemptsPerSample) {
        // the loads that failed go with the error: the loader names them (no batch arrives to account for them)
        throw Object.assign(
          new Error(`data: batch ${batchIndex} slot ${s.j}: ${attempt} consecutive samples failed to load (last: ${spec.paths[s.index]}: ${reason}); is the dataset readable?`),
          { failures },
        );
      }
      const ns = { j: s.j, index: 0, attempt };
      ns.index = this.replacement(batchIndex, { ...s, attempt });
      next.push(ns);
    };

    const emit = (s: Slot, video: DecodedVideo, frameLists: Int32Array[], framePos: (clip: number, t: number) => number) => {
      const fb = video.width * video.height * 3;
      for (let i = 0; i < frameLists.length; i++) {
        const offsets = Array.from(frameLists[i], (_, t) => framePos(i, t) * fb);
        const clip = { data: video.data, frameOffsets: offsets, height: video.height, width: video.width };
        const base = (i * V * B + s.j) * clipFloats;
        if (spec.transform.kind === 'train') {
          const rng = new Rng(spec.seed, Purpose.transform, batchIndex, s.j, s.attempt, i);
          trainClipTransform(clip, spec.cropSize, spec.transform, rng, clips, base);
        } else {
          evalClipTransform(clip, spec.cropSize, spec.transform, clips, base, B * clipFloats);
        }
      }
      labels[s.j] = spec.labels[s.index];
      used[s.j] = s.index;
      paths[s.j] = spec.paths[s.index];
      decoded++;
    };

    while (pending.length > 0) {
      const next: Slot[] = [];
      const work: { s: Slot; req: DecodeRequest; lists: Int32Array[] | null }[] = [];
      for (const s of pending) {
        const path = spec.paths[s.index];
        let st: Stamp;
        try {
          const { size, mtimeMs } = statSync(path);
          st = { size, mtimeMs };
        } catch {
          fail(s, 'file not found', next);
          continue;
        }
        const size = st.size;
        stamps.set(s.index, st);
        if (size < spec.minFileBytes) {
          fail(s, size === 0 ? 'empty file (0 bytes)' : `file too small (${size} bytes < ${spec.minFileBytes})`, next);
          continue;
        }
        if (size > spec.filterLongVideos) {
          fail(s, `file too large (${size} bytes > filterLongVideos ${spec.filterLongVideos})`, next);
          continue;
        }
        let m = this.meta.get(s.index);
        if (m && !isCurrent(m, st)) {
          // counted from another version of the file (a stored entry, or the video changed mid-run)
          this.meta.delete(s.index);
          m = undefined;
        }
        if (!m && size > spec.wholeDecodeMaxBytes) {
          try {
            m = metaOf(await probeVideoFull(path), st);
            counted++;
            this.remember(s.index, m);
            newMeta.push([s.index, m]);
          } catch (e) {
            fail(s, (e as Error).message, next);
            continue;
          }
        }
        const base: DecodeRequest = { path, shortSide: spec.decodeShortSide ?? undefined };
        if (m) {
          let lists: Int32Array[];
          try {
            lists = this.indicesFor(batchIndex, s, m.frameCount, m.fps);
          } catch (e) {
            fail(s, (e as Error).message, next);
            continue;
          }
          const flat = new Int32Array(lists.reduce((a, l) => a + l.length, 0));
          let o = 0;
          for (const l of lists) {
            flat.set(l, o);
            o += l.length;
          }
          const seek = spec.seek ? chooseSeek(m.keyframes, flat.reduce((a, b) => Math.min(a, b), Infinity)) : null;
          work.push({ s, req: { ...base, indices: flat, seek }, lists });
        } else {
          work.push({ s, req: { ...base, maxFrames: wholeDecodeCap(spec.sampling) }, lists: null });
        }
      }
      // group into ffmpeg processes
      const groups: (typeof work)[] = [];
      const per = Math.max(1, Math.min(spec.videosPerProcess, Math.ceil(work.length / spec.procsPerWorker)));
      for (let i = 0; i < work.length; i += per) groups.push(work.slice(i, i + per));
      const results = await pool(groups, spec.procsPerWorker, (g) => decodeVideos(g.map((w) => w.req)));
      for (let g = 0; g < groups.length; g++) {
        for (let k = 0; k < groups[g].length; k++) {
          const w = groups[g][k];
          const r = results[g][k];
          if (r instanceof Error) {
            fail(w.s, r.message, next);
            continue;
          }
          try {
            if (w.req.seek) seeked++;
            if (r.seekRejected) {
              seekFallbacks++;
              // the frames are right (decoded again from the start); stop seeking in this video
              const m = { ...this.meta.get(w.s.index)!, keyframes: new Float64Array(0) };
              this.remember(w.s.index, m);
              newMeta.push([w.s.index, m]);
            }
            if (w.lists) {
              let p = 0;
              const starts = w.lists.map((l) => {
                const st = p;
                p += l.length;
                return st;
              });
              emit(w.s, r, w.lists, (i, t) => starts[i] + t);
            } else {
              if (r.info.frameCount < 0) {
                // longer than the whole-decode cap: count exactly, then decode the chosen frames
                const m = metaOf(await probeVideoFull(w.req.path), stamps.get(w.s.index)!);
                counted++;
                this.remember(w.s.index, m);
                newMeta.push([w.s.index, m]);
                next.push(w.s);
                continue;
              }
              // no keyframes: a video this short is decoded from frame 0
              const m: VideoMeta = { frameCount: r.info.frameCount, fps: r.info.fps, ...stamps.get(w.s.index)! };
              counted++;
              this.remember(w.s.index, m);
              newMeta.push([w.s.index, m]);
              const lists = this.indicesFor(batchIndex, w.s, m.frameCount, m.fps);
              emit(w.s, r, lists, (i, t) => lists[i][t]);
            }
          } catch (e) {
            fail(w.s, (e as Error).message, next);
          }
        }
      }
      pending = next;
    }
    return { batchIndex, clips, shape, labels, sampleIndices: used, paths, failures, decoded, seeked, seekFallbacks, counted, newMeta };
  }
}
