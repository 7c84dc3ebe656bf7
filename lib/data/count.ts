// `vjepa-data count`: count every listed video's frames and keyframes ahead of training, in
// parallel, into the store the loaders read (lib/data/meta-cache.ts). A first epoch over long
// videos otherwise decodes each of them whole once, in the data workers, while the GPU waits.
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readVideoIndex } from './csv.js';
import { probeVideoFull } from './ffmpeg.js';
import { isCurrent, metaOf, VideoMetaCache, type VideoMeta } from './meta-cache.js';

export interface CountOptions {
  csvPaths: string[];
  /** concurrent ffmpeg processes (default: cores) */
  jobs?: number;
  log?: (m: string) => void;
  /** progress lines at most this often (ms; default 5000) */
  progressEveryMs?: number;
}

export interface CountResult {
  /** per CSV: where its entries are stored (null: nowhere writable) */
  files: (string | null)[];
  videos: number;
  /** already in the store and unchanged */
  known: number;
  counted: number;
  failed: { path: string; reason: string }[];
}

export async function countVideos(opts: CountOptions): Promise<CountResult> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const jobs = opts.jobs ?? availableParallelism();
  const result: CountResult = { files: [], videos: 0, known: 0, counted: 0, failed: [] };
  for (const csv of opts.csvPaths) {
    const index = readVideoIndex([csv]);
    const cache = VideoMetaCache.open(csv, log);
    result.files.push(cache.file);
    const todo: string[] = [];
    for (const path of new Set(index.paths)) {
      result.videos++;
      const m = cache.entries.get(path);
      let st;
      try {
        st = statSync(path);
      } catch {
        result.failed.push({ path, reason: 'file not found' });
        continue;
      }
      if (m && isCurrent(m, st)) result.known++;
      else todo.push(path);
    }
    let next = 0;
    let pending: [string, VideoMeta][] = [];
    let last = Date.now();
    const every = opts.progressEveryMs ?? 5000;
    const runner = async () => {
      while (next < todo.length) {
        const path = todo[next++];
        try {
          const before = statSync(path);
          pending.push([path, metaOf(await probeVideoFull(path), before)]);
          result.counted++;
        } catch (e) {
          result.failed.push({ path, reason: (e as Error).message });
        }
        // whole lines, a few at a time: a kill loses at most the last few counts
        if (pending.length >= 16) {
          cache.add(pending);
          pending = [];
        }
        if (Date.now() - last >= every) {
          last = Date.now();
          log(`${csv}: ${result.counted} counted, ${todo.length - next} to go`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, todo.length)) }, runner));
    cache.add(pending);
  }
  return result;
}
