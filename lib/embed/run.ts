// vjepa-embed's work: build the encoder from the YAML, load the checkpoint, stream clips through
// it in batches, stream the features to a float32 .npy.
import { resolve } from 'node:path';
import type { HostTensor } from '../io/host-tensor.js';
import { InitRng } from '../nn/init.js';
import { describeLoad, loadEncoderCheckpoint, type EncoderCheckpointReport } from '../nn/checkpoint-load.js';
import type { VisionTransformer } from '../nn/vit.js';
import { buildEncoder } from '../nn/vjepa.js';
import { selectDevice } from '../device.js';
import { native } from '../native.js';
import { encoderAttention, tuneRunAttention } from '../ops/attention-tuning.js';
import { assertBf16Device, cpuBf16Pays, type MatmulDtype } from '../ops/autocast.js';
import { loadEmbedConfig } from './config.js';
import { checkClipShape, embedBatch, tokenIndices, type Pool } from './embed.js';
import { NpyRowReader, NpyRowWriter } from './npy-stream.js';
import { evalClipSource } from './video.js';
import { evalImageBatches, imageFiles } from './images.js';

export interface EmbedRunOptions {
  checkpoint: string;
  /** checkpoint section; default target_encoder when present, else encoder */
  key?: string;
  config: string;
  /** float32 .npy [B, 3, T, H, W], normalised */
  input?: string;
  videos?: string[];
  csv?: string[];
  /** image files, or folders of them (sorted by path): DATA-11's val transform, static clips for a video model (EVAL-07) */
  images?: string[];
  out: string;
  /** int64/int32 .npy [B, K] of kept token indices */
  contextIdx?: string;
  pool?: Pool;
  batchSize?: number;
  /** load what matches instead of failing on missing / unexpected / mis-shaped keys */
  partial?: boolean;
  /** data worker threads for --video / --csv (default: the loader's) */
  numWorkers?: number;
  /** 'cpu' (default), 'cuda' or 'cuda:N': where the encoder runs; features come back to the host */
  device?: string;
  /**
   * 'bfloat16': bf16 mixed precision (the original's evals autocast to fp16): bf16 GEMM operands,
   * fp32 accumulation. On a CPU with AVX512-BF16 its GEMMs run at twice fp32's rate; on others
   * they widen to fp32 (bf16 values at fp32 speed, said in the log).
   */
  dtype?: MatmulDtype;
  /** blocks whose outputs (each through the final norm) to write, as MOD-08's out_layers; negative counts from the end */
  layers?: number[];
  /** --video / --csv: clips per video, spread over it as the probe's segments (DATA-03); adds a clip axis */
  clips?: number;
  /** --video / --csv: spatial views per clip, as the probe's eval views (DATA-10); adds a view axis */
  views?: number;
  log?: (msg: string) => void;
  /** progress lines (rows done of all, rate, time left), at most one per `progressEveryMs` (default 10 s) */
  progress?: (msg: string) => void;
  progressEveryMs?: number;
}

export interface EmbedRunResult {
  shape: number[];
  load: EncoderCheckpointReport;
  /** video or image paths in output order (--video / --csv / --image) */
  paths?: string[];
}

export const DEFAULT_BATCH_SIZE = 8;

export async function runEmbed(o: EmbedRunOptions): Promise<EmbedRunResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const pool: Pool = o.pool ?? 'none';
  if (pool !== 'none' && pool !== 'mean') throw new Error(`--pool must be none or mean, got ${String(pool)}`);
  const batchSize = o.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`--batch-size must be a positive integer, got ${batchSize}`);
  const sources = [o.input !== undefined, (o.videos?.length ?? 0) > 0, (o.csv?.length ?? 0) > 0, (o.images?.length ?? 0) > 0].filter(Boolean).length;
  if (sources !== 1) throw new Error('give exactly one of --input CLIPS.npy, --video FILE..., --csv FILE, --image FILE...');
  for (const [name, v] of [['clips', o.clips], ['views', o.views]] as const) {
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
    if (o.input !== undefined) throw new Error(`--${name} takes clips from videos (--video / --csv); an --input .npy holds its clips already`);
    if (o.images?.length) throw new Error(`--${name} takes clips from videos (--video / --csv); an image is one centre crop (DATA-11)`);
  }

  // --out replaces its file whole: never one of the run's own inputs.
  const readFrom: [string, string | undefined][] = [
    ['--checkpoint', o.checkpoint], ['--config', o.config], ['--input', o.input], ['--context-idx', o.contextIdx],
    ...(o.csv ?? []).map((c): [string, string] => ['--csv', c]),
  ];
  for (const [flag, f] of readFrom)
    if (f !== undefined && resolve(f) === resolve(o.out)) throw new Error(`--out ${o.out} is the ${flag} file itself; write the features elsewhere`);

  const device = selectDevice(o.device ?? 'cpu', { cudaSupported: true, what: '--device' });
  const dtype = o.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'bfloat16') throw new Error(`--dtype must be float32 or bfloat16, got ${String(dtype)}`);
  if (dtype === 'bfloat16') {
    assertBf16Device(device, '--dtype bfloat16', 'use --dtype float32');
    if (device === 'cpu' && !cpuBf16Pays())
      log(`note: --dtype bfloat16 on this CPU (${native.isa().active}, no AVX512-BF16): bf16 operands, widened to fp32 for the products, so no faster than --dtype float32`);
  }
  const cfg = loadEmbedConfig(o.config);
  for (const w of cfg.warnings) log(`warning: ${w}`);
  // A strict load overwrites every weight, so only --partial needs them drawn (to keep what it misses).
  const encoder = buildEncoder(cfg.model, o.partial ? new InitRng(0) : InitRng.uninitialised());
  try {
    encoder.setTrainable(false);
    const load = loadEncoderCheckpoint(o.checkpoint, encoder, { key: o.key, strict: !o.partial });
    if (o.partial) log(`partial load: ${describeLoad(load)}`);
    // Loaded on the host, then moved: embedBatch uploads each batch next to the weights (fp32).
    if (device !== 'cpu') encoder.to(device);
    const layers = o.layers ? encoder.layerIndices(o.layers, '--layers') : null;
    // a batch of videos is batchSize x clips encoder rows
    tuneRunAttention(device, dtype, [encoderAttention(encoder, batchSize * (o.clips ?? 1) * (o.views ?? 1))], log);
    const run = { pool, batchSize, dtype, layers, tick: ticker(o, o.input !== undefined ? 'clips' : o.images?.length ? 'images' : 'videos') };
    if (o.input !== undefined) return { ...(await embedNpy(encoder, o, run)), load };
    if (o.images?.length) return { ...(await embedImages(encoder, o, cfg.data, run)), load };
    return { ...(await embedVideos(encoder, o, cfg.data, run)), load };
  } finally {
    encoder.dispose();
  }
}

/** `tick(done, total)`: a progress line when progressEveryMs has passed since the last one, none at the end. */
function ticker(o: EmbedRunOptions, unit: string): (rows: number, total: number) => void {
  const say = o.progress;
  if (!say) return () => undefined;
  const every = o.progressEveryMs ?? 10_000;
  const t0 = performance.now();
  let last = t0;
  return (done, total) => {
    const now = performance.now();
    if (done >= total || now - last < every) return;
    last = now;
    const rate = done / ((now - t0) / 1000);
    const left = (total - done) / rate;
    say(`embed: ${done}/${total} ${unit}, ${rate.toPrecision(3)}/s, about ${left < 90 ? `${Math.ceil(left)} s` : `${Math.ceil(left / 60)} min`} left`);
  };
}

function openIndices(path: string, B: number, clipsWhat: string): NpyRowReader {
  const r = new NpyRowReader(path);
  try {
    if (r.shape.length !== 2) throw new Error(`${path}: --context-idx must be [B, K], got [${r.shape.join(', ')}]`);
    if (r.dtype !== 'int64' && r.dtype !== 'int32') throw new Error(`${path}: --context-idx must be int64 or int32, got ${r.dtype}`);
    if (r.shape[0] !== B) throw new Error(`${path}: --context-idx has ${r.shape[0]} rows but ${clipsWhat} has ${B} clips`);
    if (r.shape[1] < 1) throw new Error(`${path}: --context-idx keeps no tokens (K = 0)`);
  } catch (e) {
    r.close();
    throw e;
  }
  return r;
}

function outShape(B: number, tokens: number, D: number, { pool, layers }: BatchSettings, clips?: number, views?: number): number[] {
  const lead = [B, ...(clips !== undefined ? [clips] : []), ...(views !== undefined ? [views] : []), ...(layers ? [layers.length] : [])];
  return pool === 'mean' ? [...lead, D] : [...lead, tokens, D];
}

/** What every batch of a run shares. */
interface BatchSettings {
  /** rows written so far, of all: says how far the run is */
  tick: (rows: number, total: number) => void;
  pool: Pool;
  batchSize: number;
  dtype: MatmulDtype;
  /** block indices in [0, depth), or null for the encoder's output */
  layers: number[] | null;
}

/** One batch of a source: its host clips (or images), the index of its first output row, its rows, its files. */
interface SourceBatch {
  host: HostTensor;
  start: number;
  n: number;
  what: string;
}

/**
 * The features of a source's B rows (N tokens each; C encoder rows per output row: a video's clips and
 * views) into o.out, with --context-idx applied; the file appears only when every batch is written.
 */
async function writeFeatures(
  encoder: VisionTransformer,
  o: EmbedRunOptions,
  run: BatchSettings,
  src: { B: number; N: number; what: string; clips?: number; views?: number },
  batches: AsyncIterable<SourceBatch> | Iterable<SourceBatch>,
): Promise<number[]> {
  const { B, N } = src;
  const C = (src.clips ?? 1) * (src.views ?? 1);
  let idx: NpyRowReader | null = null;
  let writer: NpyRowWriter | null = null;
  try {
    if (o.contextIdx !== undefined) idx = openIndices(o.contextIdx, B, src.what);
    const shape = outShape(B, idx ? idx.shape[1] : N, encoder.cfg.embedDim, run, src.clips, src.views);
    writer = new NpyRowWriter(o.out, shape);
    for await (const b of batches) {
      let kept = idx ? tokenIndices(idx.read(b.start, b.n), N, o.contextIdx!, b.start) : null;
      if (kept && C > 1) kept = repeatRows(kept, b.n, C);
      writer.append(embedBatch(encoder, b.host, kept, run.pool, b.what, run.dtype, run.layers));
      run.tick(b.start + b.n, B);
    }
    writer.finish();
    writer = null;
    return shape;
  } finally {
    writer?.abort();
    idx?.close();
  }
}

async function embedNpy(encoder: VisionTransformer, o: EmbedRunOptions, run: BatchSettings): Promise<{ shape: number[] }> {
  const input = o.input!;
  const clips = new NpyRowReader(input);
  try {
    if (clips.dtype !== 'float32' && clips.dtype !== 'float64') throw new Error(`${input}: clips must be float32, got ${clips.dtype}`);
    const N = checkClipShape(encoder, clips.shape, input);
    const B = clips.rows;
    const batches = function* (): Generator<SourceBatch> {
      for (let s = 0; s < B; s += run.batchSize) {
        const n = Math.min(run.batchSize, B - s);
        yield { host: clips.read(s, n), start: s, n, what: input };
      }
    };
    return { shape: await writeFeatures(encoder, o, run, { B, N, what: input }, batches()) };
  } finally {
    clips.close();
  }
}

/** Rows [n, K] -> [n·C, K], each row C times: a video's token indices for each of its clips. */
function repeatRows(rows: Int32Array, n: number, C: number): Int32Array {
  const K = rows.length / n;
  const out = new Int32Array(rows.length * C);
  for (let j = 0; j < n; j++) for (let c = 0; c < C; c++) out.set(rows.subarray(j * K, (j + 1) * K), (j * C + c) * K);
  return out;
}

async function embedImages(
  encoder: VisionTransformer,
  o: EmbedRunOptions,
  data: { numFrames: number; cropSize: number },
  run: BatchSettings,
): Promise<{ shape: number[]; paths: string[] }> {
  const files = imageFiles(o.images!);
  const B = files.length;
  // EVAL-07: a video model sees each image repeated to its frame count; the image model (MOD-02) the image
  const frames = encoder.isImage ? 1 : data.numFrames;
  const N = checkClipShape(encoder, encoder.isImage ? [B, 3, data.cropSize, data.cropSize] : [B, 3, frames, data.cropSize, data.cropSize], '--image');
  const batches = async function* (): AsyncGenerator<SourceBatch> {
    for await (const b of evalImageBatches(files, { cropSize: data.cropSize, frames, batchSize: run.batchSize }))
      yield { host: { dtype: 'float32', shape: b.shape, data: b.data }, start: b.start, n: b.paths.length, what: b.paths.join(', ') };
  };
  return { shape: await writeFeatures(encoder, o, run, { B, N, what: '--image' }, batches()), paths: files };
}

async function embedVideos(
  encoder: VisionTransformer,
  o: EmbedRunOptions,
  data: { numFrames: number; cropSize: number; samplingRate: number | null; clipDuration: number | null },
  run: BatchSettings,
): Promise<{ shape: number[]; paths: string[] }> {
  if (data.samplingRate === null && data.clipDuration === null) {
    throw new Error(`${o.config}: data.sampling_rate is needed to sample clips from videos`);
  }
  const src = evalClipSource({
    csvPaths: o.csv,
    videos: o.videos,
    framesPerClip: data.numFrames,
    frameStep: data.samplingRate ?? 1,
    clipDuration: data.clipDuration,
    cropSize: data.cropSize,
    batchSize: run.batchSize,
    numWorkers: o.numWorkers,
    numClips: o.clips,
    numViews: o.views,
  });
  // encoder rows per video
  const C = (o.clips ?? 1) * (o.views ?? 1);
  try {
    const B = src.paths.length;
    const what = o.csv?.length ? o.csv.join(', ') : '--video';
    const N = checkClipShape(encoder, [B, 3, data.numFrames, data.cropSize, data.cropSize], what);
    const batches = async function* (): AsyncGenerator<SourceBatch> {
      for await (const b of src.batches())
        yield { host: { dtype: 'float32', shape: b.shape, data: b.clips }, start: b.start, n: b.shape[0] / C, what: b.paths.join(', ') };
    };
    const shape = await writeFeatures(encoder, o, run, { B, N, what, clips: o.clips, views: o.views }, batches());
    return { shape, paths: src.paths };
  } finally {
    await src.close();
  }
}
