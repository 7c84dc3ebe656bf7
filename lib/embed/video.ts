// Eval clips of whole videos for vjepa-embed: the VideoLoader in eval mode with one view (DATA-10:
// short side to int(S*256/224), centre crop), one or more segments per video with deterministic
// placement (random clip sampling off, DATA-03), in file order. A video that cannot be decoded is an
// error naming it: the loader's usual replacement by another video (DATA-02) would silently
// mislabel features.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { VideoLoader, type VideoBatch } from '../data/loader.js';
import { batchMajor } from './embed.js';

export interface EvalClipOptions {
  /** index CSVs (`path label` lines, DATA-01) */
  csvPaths?: string[];
  /** video files, used when no CSV is given */
  videos?: string[];
  framesPerClip: number;
  frameStep: number;
  clipDuration?: number | null;
  cropSize: number;
  batchSize: number;
  numWorkers?: number;
  /** clips per video, spread over it as the probe's segments (default 1) */
  numClips?: number;
  /** spatial views per clip, as the probe's eval views (default 1: the centre crop) */
  numViews?: number;
}

export interface EvalClipBatch {
  /** [b·C·V, 3, T, S, S] for C clips of V views per video, video-major then clip, normalised */
  clips: Float32Array;
  shape: number[];
  paths: string[];
  /** index of the first clip in the whole list */
  start: number;
}

export interface EvalClipSource {
  paths: string[];
  batches(): AsyncGenerator<EvalClipBatch>;
  close(): Promise<void>;
}

export function evalClipSource(o: EvalClipOptions): EvalClipSource {
  let tmp: string | null = null;
  let csvPaths = o.csvPaths ?? [];
  if (csvPaths.length === 0) {
    const videos = o.videos ?? [];
    if (videos.length === 0) throw new Error('no videos given');
    for (const v of videos) if (/[\r\n]/.test(v)) throw new Error(`video path ${JSON.stringify(v)} contains a line break`);
    tmp = mkdtempSync(join(tmpdir(), 'vjepa-embed-'));
    const csv = join(tmp, 'videos.csv');
    writeFileSync(csv, videos.map((v) => `${resolve(v)} 0`).join('\n') + '\n');
    csvPaths = [csv];
  }
  const reasons: string[] = [];
  let loader: VideoLoader;
  try {
    loader = new VideoLoader({
      csvPaths,
      batchSize: o.batchSize,
      framesPerClip: o.framesPerClip,
      frameStep: o.frameStep,
      clipDuration: o.clipDuration ?? null,
      numClips: o.numClips ?? 1,
      cropSize: o.cropSize,
      training: false,
      randomClipSampling: false,
      transform: { kind: 'eval', numViews: o.numViews ?? 1 },
      seed: 0,
      shuffle: false,
      dropLast: false,
      passes: 1,
      numWorkers: o.numWorkers,
      maxFailureFraction: 1,
      minFileBytes: 1,
      // a store beside a temporary CSV would be deleted with it
      metaCache: tmp === null,
      // a missing video is an error naming it, before a loader would retry it in vain
      missingVideos: 'error',
      log: (m) => reasons.push(m),
    });
  } catch (e) {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const paths = Array.from(loader.paths);
  // The loader's line for a failed file says it was replaced; here that is an error, so keep only the
  // cause, without the path that ffmpeg's message repeats. Loads in a batch the loader gave up on
  // are never logged: their reasons come with its error.
  const lastReason = new Map<string, string>();
  const reasonOf = (path: string): string => {
    const direct = lastReason.get(path);
    if (direct !== undefined) return ` (${direct.split(`${path}: `).join('')})`;
    const head = `data: cannot load ${path} (`;
    const tail = '); replaced by another sample';
    const line = reasons.find((m) => m.startsWith(head) && m.endsWith(tail));
    return line ? ` (${line.slice(head.length, -tail.length).split(`${path}: `).join('')})` : '';
  };
  const source: EvalClipSource = {
    paths,
    async *batches() {
      let start = 0;
      const cannotRead = (names: string[]) =>
        new Error(`cannot read ${names.length === 1 ? 'video' : 'videos'} ${names.map((p) => `${p}${reasonOf(p)}`).join(', ')}`);
      const it = loader[Symbol.asyncIterator]();
      for (;;) {
        let r: IteratorResult<VideoBatch>;
        try {
          r = await it.next();
        } catch (e) {
          // the loader gives up on a slot that found no readable replacement (every video bad):
          // what failed is the videos it tried, not the dataset
          const failures = (e as { failures?: { path: string; reason: string }[] }).failures ?? [];
          for (const f of failures) if (!lastReason.has(f.path)) lastReason.set(f.path, f.reason);
          const failed = loader.stats().failedPaths;
          if (failed.length > 0) throw cannotRead(failed);
          throw e;
        }
        if (r.done) break;
        const b = r.value;
        const b0 = start;
        const n = b.paths.length;
        const bad = b.paths.map((p, j) => (p === paths[b0 + j] ? -1 : b0 + j)).filter((j) => j >= 0);
        if (bad.length > 0 || loader.stats().failed > 0) {
          const failed = loader.stats().failedPaths;
          throw cannotRead(failed.length ? failed : bad.map((j) => paths[j]));
        }
        start += n;
        // eval layout [C, V, b, 3, T, S, S] -> [b·C·V, 3, T, S, S], a video's clips and views together
        const [C, V, , ...clip] = b.shape;
        if (C * V === 1) {
          yield { clips: b.clips, shape: b.shape.slice(2), paths: b.paths, start: b0 };
          continue;
        }
        const part = b.clips.length / (C * V);
        const parts = Array.from({ length: C * V }, (_, a) => b.clips.subarray(a * part, (a + 1) * part));
        yield { clips: batchMajor(parts, n), shape: [n * C * V, ...clip], paths: b.paths, start: b0 };
      }
      if (start !== paths.length) throw new Error(`video loader returned ${start} of ${paths.length} clips`);
    },
    async close() {
      await loader.close();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    },
  };
  return source;
}
