// Loader throughput vs the decode ceiling measured in the same run:
//   ceiling clips/s = (frames/s of plain `ffmpeg -i f -f rawvideo -pix_fmt rgb24 -vsync 0 pipe:`
//   over the same files, as many processes as cores) / frames one clip spans (fpc * frame step).
// On long videos, the loader seeking to the keyframe before each clip vs the same loader decoding
// every clip from frame 0; and a first epoch whose frame counts are in the store (lib/data/meta-cache.ts)
// vs one that counts them.
import { spawn } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ffmpegPath, runFfmpeg, ffmpegReason } from '../lib/data/ffmpeg.js';
import { ensureSynthDataset } from '../lib/data/synth.js';
import { VideoLoader } from '../lib/data/loader.js';
import { countVideos } from '../lib/data/count.js';

export interface Row {
  name: string;
  ours: number;
  reference: number | null;
  /** what `reference` is (default: the ffmpeg decode ceiling) */
  referenceName?: string;
  unit: string;
  ratio: number | null;
}

function decodeAll(file: string): Promise<number> {
  return new Promise((res, rej) => {
    const p = spawn(ffmpegPath(), ['-nostdin', '-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-vsync', '0', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let bytes = 0;
    p.stdout.on('data', (c: Buffer) => (bytes += c.length));
    p.on('error', rej);
    p.on('close', () => res(bytes));
  });
}

/** frames/s of plain ffmpeg decoding `files` with `procs` concurrent processes */
async function decodeCeiling(files: string[], frameBytes: number, procs: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  let frames = 0;
  await Promise.all(
    Array.from({ length: procs }, async () => {
      while (next < files.length) frames += (await decodeAll(files[next++])) / frameBytes;
    }),
  );
  return frames / ((performance.now() - t0) / 1000);
}

interface RateOptions { fpc: number; fs: number; crop: number; batch: number; warm: number; measure: number; seek?: boolean; metaCache?: boolean }

/** clips/s over batches warm..warm+measure; warm 0 times from the loader's construction */
async function loaderRate(csv: string, o: RateOptions): Promise<number> {
  let t0 = performance.now();
  // steady-state rows count their videos during the warm-up, in every run: no store from the last one
  const loader = new VideoLoader({
    csvPaths: [csv], batchSize: o.batch, framesPerClip: o.fpc, frameStep: o.fs, numClips: 1, cropSize: o.crop, training: true,
    transform: { scale: [0.3, 1.0], ratio: [0.75, 1.35], flip: true }, seed: 0, seek: o.seek ?? true, metaCache: o.metaCache ?? false,
  });
  let n = 0;
  for await (const _ of loader) {
    n++;
    if (n === o.warm) t0 = performance.now();
    if (n === o.warm + o.measure) break;
  }
  const dt = (performance.now() - t0) / 1000;
  await loader.close();
  return (o.measure * o.batch) / dt;
}

export async function benchLoader(): Promise<Row[]> {
  const cores = availableParallelism();
  const root = join(tmpdir(), 'vjepa-bench-data');
  const rows: Row[] = [];
  const cases = [
    { name: 'default 8x64² fs4 B8 (96² synth, 48 f)', dir: 'small', size: [96, 96], frames: 48, videos: 96, fpc: 8, fs: 4, crop: 64, batch: 8, warm: 12, measure: 36 },
    { name: '16x224² fs4 B8 (320x240 synth, 72 f)', dir: 'large', size: [320, 240], frames: 72, videos: 24, fpc: 16, fs: 4, crop: 224, batch: 8, warm: 3, measure: 9 },
  ];
  for (const c of cases) {
    const ds = await ensureSynthDataset(join(root, c.dir), { videos: c.videos, valVideos: 1, classes: 4, frames: c.frames, width: c.size[0], height: c.size[1], seed: 1 });
    const files = readFileSync(ds.trainCsv, 'utf8').trim().split('\n').map((l) => l.slice(0, l.lastIndexOf(' ')));
    const span = c.fpc * c.fs;
    // interleave ceiling and loader runs so that background load hits both alike
    const ceil1 = await decodeCeiling(files, c.size[0] * c.size[1] * 3, cores);
    const ours = await loaderRate(ds.trainCsv, c);
    const ceil2 = await decodeCeiling(files, c.size[0] * c.size[1] * 3, cores);
    const ceiling = (ceil1 + ceil2) / 2 / span;
    rows.push({ name: `loader ${c.name}`, ours, reference: ceiling, unit: 'clips/s', ratio: ours / ceiling });
    rows.push({ name: `plain ffmpeg decode, same files (${cores} procs)`, ours: (ceil1 + ceil2) / 2, reference: null, unit: 'frames/s', ratio: null });
  }
  for (const loops of [4, 40]) rows.push(await benchSeek(join(root, `long${loops}`), loops, cores));
  rows.push(await benchFirstEpoch(join(root, 'long40'), cores));
  return rows;
}

/**
 * The first batches of a run over 2-minute videos, counts stored by `vjepa-data count` (or an earlier
 * run) vs counted by the run itself: every video is new to every worker in the first 2 x workers batches.
 */
async function benchFirstEpoch(dir: string, cores: number): Promise<Row> {
  const csv = join(dir, 'long.csv');
  const c = { fpc: 16, fs: 4, crop: 224, batch: 8, warm: 0, measure: 2 * cores + 1 };
  const counting = await loaderRate(csv, { ...c, metaCache: false });
  rmSync(`${csv}.vjepa-meta`, { force: true });
  await countVideos({ csvPaths: [csv], log: () => undefined });
  const stored = await loaderRate(csv, { ...c, metaCache: true });
  return { name: `loader 16x224² B8, 2 min videos, first ${c.measure} batches, counts stored`, ours: stored, reference: counting, referenceName: 'same loader, counting every video', unit: 'clips/s', ratio: stored / counting };
}

/**
 * Long videos (a 3-s synthetic clip looped `loops` times: 12 s is Kinetics-like, 2 min HowTo100M-
 * like; GOP 8 as `vjepa-data prepare` writes): seeking vs decoding every clip from frame 0.
 */
async function benchSeek(dir: string, loops: number, cores: number): Promise<Row> {
  // every video is seen first in the first `prefetch` (2 x workers) batches, all in flight at once
  const c = { fpc: 16, fs: 4, crop: 224, batch: 8, warm: 2 * cores + 1, measure: 5 };
  const ds = await ensureSynthDataset(join(dir, '..', 'long-src'), { videos: 8, valVideos: 1, classes: 4, frames: 75, width: 320, height: 240, seed: 2 });
  const csv = join(dir, 'long.csv');
  if (!existsSync(csv)) {
    mkdirSync(dir, { recursive: true });
    const lines = readFileSync(ds.trainCsv, 'utf8').trim().split('\n');
    const out: string[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: cores }, async () => {
      while (next < lines.length) {
        const i = next++;
        const src = lines[i].slice(0, lines[i].lastIndexOf(' '));
        const dst = join(dir, `long${i}.mp4`);
        const r = await runFfmpeg(['-v', 'error', '-y', '-stream_loop', String(loops - 1), '-i', src, '-threads', '1', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-g', '8', '-bf', '0', '-pix_fmt', 'yuv420p', dst]);
        if (r.code !== 0) throw new Error(`${dst}: ${ffmpegReason(r.stderr, r.code)}`);
        out[i] = `${dst} ${lines[i].slice(lines[i].lastIndexOf(' ') + 1)}`;
      }
    }));
    writeFileSync(`${csv}.tmp`, out.join('\n') + '\n');
    renameSync(`${csv}.tmp`, csv);
  }
  const plain = await loaderRate(csv, { ...c, seek: false });
  const seek = await loaderRate(csv, c);
  return { name: `loader 16x224² fs4 B8, ${(loops * 3) % 60 === 0 ? `${(loops * 3) / 60} min` : `${loops * 3} s`} videos (${loops * 75} f, GOP 8), seeking`, ours: seek, reference: plain, referenceName: 'same loader, decoding from frame 0', unit: 'clips/s', ratio: seek / plain };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchLoader();
  for (const r of rows) {
    console.log(`${r.name.padEnd(58)} ${r.ours.toFixed(1).padStart(8)} ${r.unit.padEnd(9)} ceiling ${r.reference === null ? '   -' : r.reference.toFixed(1).padStart(7)}  ratio ${r.ratio === null ? '-' : r.ratio.toFixed(2)}`);
  }
}
