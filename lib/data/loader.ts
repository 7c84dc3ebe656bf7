// Public loaders: a pool of worker processes (each driving grouped ffmpeg processes) with a
// bounded, ordered prefetch. Batch k is a pure function of (seed, k): see rng.ts, sampler.ts.
import { availableParallelism } from 'node:os';
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingVideosError, readVideoIndex } from './csv.js';
import { BatchSampler } from './sampler.js';
import { batchShape, type BuiltBatch, type SampleFailure, type VideoDatasetSpec, type VideoMeta } from './batch-builder.js';
import { VideoMetaCache } from './meta-cache.js';
import { scanImageFolder, type BuiltImageBatch, type ImageDatasetSpec } from './image-folder.js';
import type { EvalTransformOptions, TrainTransformOptions } from './transforms.js';
import { discard, shmDir, sweep, unpack } from './shm.js';
import { native } from '../native.js';
import { scriptExecArgv } from '../util/process.js';

export interface VideoBatch {
  /** training: [numClips, B, 3, T, S, S]; eval: [numClips, numViews, B, 3, T, S, S] (see `shape`) */
  clips: Float32Array;
  shape: number[];
  labels: Int32Array;
  /** dataset indices actually used (after replacement) */
  sampleIndices: Int32Array;
  /** global batch counter, 0-based */
  batchIndex: number;
  paths: string[];
}

export type TransformSpec = Partial<TrainTransformOptions> | Partial<EvalTransformOptions>;

export interface VideoLoaderOptions {
  csvPaths: string[];
  datasetWeights?: number[];
  batchSize: number;
  framesPerClip: number;
  frameStep: number;
  numClips: number;
  clipDuration?: number | null;
  cropSize: number;
  training: boolean;
  randomClipSampling?: boolean;
  allowClipOverlap?: boolean;
  filterShortVideos?: boolean;
  /** bytes (DATA-02), default 1e9 */
  filterLongVideos?: number;
  /** train: scale, ratio, flip, autoAugment, motionShift, reprob; eval: numViews, shortSideScale */
  transform?: TransformSpec;
  seed: number;
  numWorkers?: number;
  prefetch?: number;
  dropLast?: boolean;
  startBatch?: number;
  numClasses?: number;
  maxFailureFraction?: number;
  /**
   * Listed videos that do not exist: replaced by others when loaded, with a warning (DATA-02, the
   * default), or an error naming them before any worker starts ('error': vjepa-embed's rows must be
   * the listed videos).
   */
  missingVideos?: 'replace' | 'error';
  log?: (msg: string) => void;
  // --- additions ---
  /** shuffle each pass (default: training) */
  shuffle?: boolean;
  /** passes over the data one iteration yields (default: Infinity when training, else 1) */
  passes?: number;
  /** files smaller than this are unloadable (DATA-02; default 1024 bytes) */
  minFileBytes?: number;
  /** resize in ffmpeg to this short side before the transforms (default null: native frames) */
  decodeShortSide?: number | null;
  /** videos decoded by one ffmpeg process (default 4) */
  videosPerProcess?: number;
  /** concurrent ffmpeg processes per worker (default 2) */
  procsPerWorker?: number;
  /** consecutive failed replacements for one slot before giving up (default 50) */
  maxAttemptsPerSample?: number;
  /** files up to this size are decoded whole on first sight (default 4 MiB) */
  wholeDecodeMaxBytes?: number;
  /**
   * start each clip's decode at the keyframe before it instead of frame 0 (default true; a
   * video's keyframes come with the decode that counts its frames, and every seek is checked)
   */
  seek?: boolean;
  /**
   * keep videos' frame counts and keyframes between runs, beside each CSV or in the cache folder
   * (default true; lib/data/meta-cache.ts)
   */
  metaCache?: boolean;
}

export interface LoaderStats {
  decoded: number;
  failed: number;
  replaced: number;
  failedPaths: string[];
  /** batches that came through a /dev/shm file (lib/data/shm.ts) rather than the IPC channel */
  shmBatches: number;
  /** clips decoded from a keyframe after frame 0 (lib/data/seek.ts) */
  seeked: number;
  /** of those, seeks that failed their check and were decoded again from frame 0 */
  seekFallbacks: number;
  /** videos whose frames were counted by decoding them (not known from an earlier batch or run) */
  counted: number;
  /** samples whose frame count came from the store of an earlier run (lib/data/meta-cache.ts) */
  metaCached: number;
}

interface PoolBatch {
  batchIndex: number;
  failures: SampleFailure[];
  decoded: number;
  seeked?: number;
  seekFallbacks?: number;
  counted?: number;
  newMeta?: [number, VideoMeta][];
}

/**
 * Worker pool + ordered prefetch shared by both loaders. Workers are child processes, not
 * threads: they spawn ffmpeg, and a fork from the training process would mark all of its
 * memory copy-on-write, so every later write to a tensor or JS heap page would fault.
 */
class BatchPipeline<R extends PoolBatch> {
  private workers: ChildProcess[] = [];
  private inflight: number[] = [];
  private waiters = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();
  private closed = false;
  /** keeps the process alive while jobs are in flight (workers themselves stay unref'd) */
  private keepAlive: NodeJS.Timeout | null = null;
  private totalInflight = 0;
  readonly counters = { decoded: 0, failed: 0, replaced: 0, shmBatches: 0, seeked: 0, seekFallbacks: 0, counted: 0, metaCached: 0 };
  /** called with the videos counted by each finished batch, in stream order */
  onNewMeta: ((entries: [number, VideoMeta][]) => void) | null = null;
  readonly failedPaths = new Set<string>();
  readonly meta = new Map<number, VideoMeta>();
  /** where batches travel (lib/data/shm.ts), or null for the IPC channel */
  private readonly shm = shmDir();

  constructor(
    workerData: unknown,
    numWorkers: number,
    private readonly log: (m: string) => void,
    private readonly maxFailureFraction: number,
    private readonly minAttemptsForCheck: number,
  ) {
    const script = fileURLToPath(new URL('./worker.js', import.meta.url));
    if (this.shm) sweep(this.shm);
    // Not process.execArgv as is: under `node -e` it holds the inline program, which the workers ran.
    const execArgv = scriptExecArgv();
    for (let i = 0; i < numWorkers; i++) {
      const w = fork(script, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      w.send({ init: workerData, shm: this.shm });
      // Idle workers must not keep the process alive; in-flight jobs do (see busy()).
      w.unref();
      w.channel?.unref();
      w.on('message', (m: WorkerReply<R>) => this.onMessage(i, m));
      w.on('error', (e) => this.failAll(new Error(`data worker ${i} failed: ${e.message}`)));
      w.on('exit', (code, signal) => {
        if (!this.closed) this.failAll(new Error(`data worker ${i} exited (${signal ?? `code ${code}`})`));
      });
      this.workers.push(w);
      this.inflight.push(0);
    }
  }

  private onMessage(i: number, m: WorkerReply<R>): void {
    this.inflight[i]--;
    this.busy(-1);
    const k = m.ok ? m.batch!.batchIndex : m.batchIndex!;
    const waiter = this.waiters.get(k);
    this.waiters.delete(k);
    if (!waiter) {
      if (m.ok) discard(m.batch as never);
      return;
    }
    if (!m.ok) {
      // a batch that gave up: its failed loads count as failed paths, as a delivered batch's would
      for (const f of m.failures ?? []) this.failedPaths.add(f.path);
      return waiter.reject(Object.assign(new Error(m.message), { failures: m.failures ?? [] }));
    }
    let batch: R;
    try {
      if ((m.batch as { shm?: unknown }).shm) this.counters.shmBatches++;
      batch = unpack<R>(m.batch as never, native.mapFile);
    } catch (e) {
      return waiter.reject(new Error(`data: batch ${k} from worker ${i}: ${(e as Error).message}`));
    }
    waiter.resolve(batch);
  }

  private busy(d: number): void {
    this.totalInflight += d;
    if (this.totalInflight > 0 && !this.keepAlive) this.keepAlive = setInterval(() => undefined, 1 << 30);
    if (this.totalInflight <= 0 && this.keepAlive) {
      clearInterval(this.keepAlive);
      this.keepAlive = null;
    }
  }

  private failAll(e: Error): void {
    for (const w of this.waiters.values()) w.reject(e);
    this.waiters.clear();
    // nothing is awaited any more: let the process exit even if a crashed worker never answers
    this.totalInflight = 0;
    this.busy(0);
  }

  submit(batchIndex: number, indices: Int32Array): Promise<R> {
    if (this.closed) return Promise.reject(new Error('loader is closed'));
    let best = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.inflight[i] < this.inflight[best]) best = i;
    const known: [number, VideoMeta][] = [];
    for (const ix of indices) {
      const m = this.meta.get(ix);
      if (m) known.push([ix, m]);
    }
    return new Promise<R>((resolve, reject) => {
      this.waiters.set(batchIndex, { resolve, reject });
      this.inflight[best]++;
      this.busy(1);
      this.workers[best].send({ batchIndex, indices, meta: known });
    });
  }

  stats(): LoaderStats {
    return { ...this.counters, failedPaths: Array.from(this.failedPaths) };
  }

  /** Account for a finished batch (in stream order): counters, once-per-path logs, the failure limit. */
  account(b: R): void {
    for (const [i, m] of b.newMeta ?? []) this.meta.set(i, m);
    if (b.newMeta && b.newMeta.length > 0) this.onNewMeta?.(b.newMeta);
    this.counters.decoded += b.decoded;
    this.counters.counted += b.counted ?? 0;
    this.counters.seeked += b.seeked ?? 0;
    this.counters.seekFallbacks += b.seekFallbacks ?? 0;
    for (const f of b.failures) {
      this.counters.failed++;
      this.counters.replaced++;
      if (!this.failedPaths.has(f.path)) {
        this.failedPaths.add(f.path);
        this.log(`data: cannot load ${f.path} (${f.reason}); replaced by another sample`);
      }
    }
    const attempts = this.counters.decoded + this.counters.failed;
    if (this.counters.failed > 0 && attempts >= this.minAttemptsForCheck && this.counters.failed / attempts > this.maxFailureFraction) {
      const examples = Array.from(this.failedPaths).slice(0, 3).join(', ');
      throw new Error(
        `data: ${this.counters.failed} of ${attempts} sample loads failed (${((100 * this.counters.failed) / attempts).toFixed(1)}%), ` +
          `above maxFailureFraction=${this.maxFailureFraction}; e.g. ${examples}`,
      );
    }
  }

  async *run(from: number, to: number, prefetch: number, indicesOf: (k: number) => Int32Array): AsyncGenerator<R> {
    const queue: Promise<R>[] = [];
    let next = from;
    const fill = () => {
      while (queue.length < prefetch && next < to) {
        const p = this.submit(next, indicesOf(next));
        p.catch(() => undefined);
        queue.push(p);
        next++;
      }
    };
    fill();
    while (queue.length > 0) {
      const b = await queue.shift()!;
      fill();
      this.account(b);
      yield b;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('loader closed'));
    const pids = this.workers.map((w) => w.pid).filter((p): p is number => p !== undefined);
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve();
            w.once('exit', () => resolve());
            w.ref(); // the caller awaits the exit: keep the loop alive until it comes
            w.kill();
          }),
      ),
    );
    this.workers = [];
    // batches built after the trainer stopped listening
    if (this.shm) sweep(this.shm, pids);
  }
}

/** A worker's answer to a batch job. */
interface WorkerReply<R> {
  ok: boolean;
  batch?: R;
  batchIndex?: number;
  message?: string;
  /** with !ok: the loads that failed before the batch gave up */
  failures?: SampleFailure[];
}

/** Index sets whose listed videos were already looked for in this process. */
const checkedIndexes = new Set<string>();

function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(`VideoLoader: ${msg}`);
}

function posInt(v: number, name: string): void {
  check(Number.isInteger(v) && v > 0, `${name} must be a positive integer (got ${v})`);
}

export class VideoLoader implements AsyncIterable<VideoBatch> {
  /** the listed videos, in index order */
  readonly paths: readonly string[];
  readonly numSamples: number;
  readonly batchesPerEpoch: number;
  readonly shape: number[];
  private readonly sampler: BatchSampler;
  private readonly pipeline: BatchPipeline<BuiltBatch & PoolBatch>;
  private readonly prefetch: number;
  private readonly startBatch: number;
  private readonly endBatch: number;

  constructor(opts: VideoLoaderOptions) {
    posInt(opts.batchSize, 'batchSize');
    posInt(opts.framesPerClip, 'framesPerClip');
    posInt(opts.frameStep, 'frameStep');
    posInt(opts.numClips, 'numClips');
    posInt(opts.cropSize, 'cropSize');
    check(Number.isFinite(opts.seed), `seed must be a number (got ${opts.seed})`);
    // Reported once per index set: the probe builds a val loader every epoch, a resume the train loader twice.
    const indexKey = opts.csvPaths.map((p) => resolve(p)).join('\n');
    const firstSight = !checkedIndexes.has(indexKey);
    const missingIsError = opts.missingVideos === 'error';
    const warnMissing = missingIsError ? () => undefined : firstSight ? (opts.log ?? ((m: string) => console.error(m))) : undefined;
    checkedIndexes.add(indexKey);
    const index = readVideoIndex(opts.csvPaths, opts.numClasses, { warnMissing });
    if (missingIsError && index.missing.length > 0) throw new Error(missingVideosError(index.missing, index.paths.length));
    this.paths = index.paths;
    this.numSamples = index.paths.length;
    const t = opts.transform ?? {};
    const kind = t.kind ?? (opts.training ? 'train' : 'eval');
    const transform = kind === 'train' ? ({ ...(t as Partial<TrainTransformOptions>), kind: 'train' } as TrainTransformOptions) : ({ ...(t as Partial<EvalTransformOptions>), kind: 'eval' } as EvalTransformOptions);
    if (transform.kind === 'eval') posInt(transform.numViews ?? 1, 'transform.numViews');
    const maxFailureFraction = opts.maxFailureFraction ?? 0.5;
    check(maxFailureFraction >= 0 && maxFailureFraction <= 1, `maxFailureFraction must be in [0, 1] (got ${maxFailureFraction})`);
    const spec: VideoDatasetSpec = {
      paths: index.paths,
      labels: index.labels,
      sampling: {
        framesPerClip: opts.framesPerClip,
        frameStep: opts.frameStep,
        numClips: opts.numClips,
        clipDuration: opts.clipDuration ?? null,
        randomClipSampling: opts.randomClipSampling ?? true,
        allowClipOverlap: opts.allowClipOverlap ?? !opts.training,
      },
      cropSize: opts.cropSize,
      transform,
      seed: opts.seed,
      filterShortVideos: opts.filterShortVideos ?? false,
      filterLongVideos: opts.filterLongVideos ?? 1e9,
      minFileBytes: opts.minFileBytes ?? 1024,
      decodeShortSide: opts.decodeShortSide ?? null,
      wholeDecodeMaxBytes: opts.wholeDecodeMaxBytes ?? 4 * 1024 * 1024,
      videosPerProcess: opts.videosPerProcess ?? 4,
      procsPerWorker: opts.procsPerWorker ?? 2,
      seek: opts.seek ?? true,
      maxAttemptsPerSample: opts.maxAttemptsPerSample ?? 50,
    };
    this.sampler = new BatchSampler({
      numSamples: this.numSamples,
      batchSize: opts.batchSize,
      seed: opts.seed,
      shuffle: opts.shuffle ?? opts.training,
      dropLast: opts.dropLast ?? opts.training,
      perFileCounts: index.perFileCounts,
      datasetWeights: opts.datasetWeights,
    });
    this.batchesPerEpoch = this.sampler.batchesPerPass;
    this.shape = batchShape(spec, opts.batchSize);
    this.prefetch = Math.max(1, opts.prefetch ?? 2 * (opts.numWorkers ?? availableParallelism()));
    this.startBatch = opts.startBatch ?? 0;
    check(Number.isInteger(this.startBatch) && this.startBatch >= 0, `startBatch must be a non-negative integer (got ${opts.startBatch})`);
    const passes = opts.passes ?? (opts.training ? Infinity : 1);
    this.endBatch = passes === Infinity ? Infinity : passes * this.batchesPerEpoch;
    const numWorkers = opts.numWorkers ?? availableParallelism();
    posInt(numWorkers, 'numWorkers');
    const log = opts.log ?? ((m: string) => console.error(m));
    this.pipeline = new BatchPipeline({ kind: 'video', spec }, numWorkers, log, maxFailureFraction, Math.max(16, opts.batchSize));
    if (opts.metaCache ?? true) this.useMetaCache(opts.csvPaths, index.perFileCounts, index.paths, firstSight ? log : () => undefined);
  }

  /**
   * Fill the pipeline with what earlier runs counted, and store what this one counts. `startLog`
   * gets the store's messages (for the first loader on an index set: the probe builds a val loader
   * every epoch).
   */
  private useMetaCache(csvPaths: string[], perFileCounts: number[], paths: string[], startLog: (m: string) => void): void {
    const caches = csvPaths.map((csv) => VideoMetaCache.open(csv, startLog));
    const fileOf = new Uint32Array(paths.length);
    let k = 0;
    perFileCounts.forEach((n, f) => {
      for (let j = 0; j < n; j++, k++) {
        fileOf[k] = f;
        const m = caches[f].entries.get(paths[k]);
        if (m) {
          this.pipeline.meta.set(k, m);
          this.pipeline.counters.metaCached++;
        }
      }
    });
    const n = this.pipeline.counters.metaCached;
    if (n > 0) startLog(`data: frame counts of ${n} of ${paths.length} videos from ${caches.flatMap((c) => c.sources).join(', ')}`);
    this.pipeline.onNewMeta = (entries) => {
      const byFile = new Map<number, [string, VideoMeta][]>();
      for (const [i, m] of entries) {
        const f = fileOf[i];
        if (!byFile.has(f)) byFile.set(f, []);
        byFile.get(f)!.push([paths[i], m]);
      }
      for (const [f, items] of byFile) caches[f].add(items);
    };
  }

  stats(): LoaderStats {
    return this.pipeline.stats();
  }

  /** Dataset indices of global batch k (before any replacement). */
  batchIndices(k: number): Int32Array {
    return this.sampler.batchIndices(k);
  }

  /** Batches [from, to) of the stream, in order. */
  async *iterate(from: number, to: number): AsyncGenerator<VideoBatch> {
    for await (const b of this.pipeline.run(from, to, this.prefetch, (k) => this.sampler.batchIndices(k))) {
      yield { clips: b.clips, shape: b.shape, labels: b.labels, sampleIndices: b.sampleIndices, batchIndex: b.batchIndex, paths: b.paths };
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<VideoBatch> {
    return this.iterate(this.startBatch, this.endBatch);
  }

  close(): Promise<void> {
    return this.pipeline.close();
  }
}

export interface ImageBatch {
  /** [B, 3, S, S] */
  images: Float32Array;
  shape: number[];
  labels: Int32Array;
  sampleIndices: Int32Array;
  batchIndex: number;
  paths: string[];
}

export interface ImageFolderLoaderOptions {
  /** folder holding one subfolder per class */
  root: string;
  batchSize: number;
  cropSize: number;
  training: boolean;
  seed: number;
  /** DATA-11 train: RandomResizedCrop (0.08, 1), ratio (3/4, 4/3), flip, AutoAugment, erasing 0.25 */
  scale?: [number, number];
  ratio?: [number, number];
  flip?: boolean;
  autoAugment?: boolean;
  reprob?: number;
  /** val: short side = int(S * shortSideScale) before the centre crop (default 256/224) */
  shortSideScale?: number;
  numWorkers?: number;
  prefetch?: number;
  dropLast?: boolean;
  shuffle?: boolean;
  startBatch?: number;
  passes?: number;
  maxFailureFraction?: number;
  log?: (msg: string) => void;
}

export class ImageFolderLoader implements AsyncIterable<ImageBatch> {
  readonly numSamples: number;
  readonly batchesPerEpoch: number;
  readonly classes: string[];
  private readonly sampler: BatchSampler;
  private readonly pipeline: BatchPipeline<BuiltImageBatch & PoolBatch>;
  private readonly prefetch: number;
  private readonly startBatch: number;
  private readonly endBatch: number;

  constructor(opts: ImageFolderLoaderOptions) {
    posInt(opts.batchSize, 'batchSize');
    posInt(opts.cropSize, 'cropSize');
    const index = scanImageFolder(opts.root);
    this.classes = index.classes;
    this.numSamples = index.paths.length;
    const spec: ImageDatasetSpec = {
      paths: index.paths,
      labels: index.labels,
      cropSize: opts.cropSize,
      training: opts.training,
      seed: opts.seed,
      scale: opts.scale ?? [0.08, 1],
      ratio: opts.ratio ?? [3 / 4, 4 / 3],
      autoAugment: opts.autoAugment ?? true,
      reprob: opts.reprob ?? 0.25,
      flip: opts.flip ?? true,
      shortSideScale: opts.shortSideScale ?? 256 / 224,
      maxAttemptsPerSample: 50,
      videosPerProcess: 8,
      procsPerWorker: 2,
    };
    this.sampler = new BatchSampler({
      numSamples: this.numSamples,
      batchSize: opts.batchSize,
      seed: opts.seed,
      shuffle: opts.shuffle ?? opts.training,
      dropLast: opts.dropLast ?? opts.training,
    });
    this.batchesPerEpoch = this.sampler.batchesPerPass;
    const numWorkers = opts.numWorkers ?? availableParallelism();
    this.prefetch = Math.max(1, opts.prefetch ?? 2 * numWorkers);
    this.startBatch = opts.startBatch ?? 0;
    const passes = opts.passes ?? (opts.training ? Infinity : 1);
    this.endBatch = passes === Infinity ? Infinity : passes * this.batchesPerEpoch;
    this.pipeline = new BatchPipeline({ kind: 'image', spec }, numWorkers, opts.log ?? ((m: string) => console.error(m)), opts.maxFailureFraction ?? 0.5, Math.max(16, opts.batchSize));
  }

  stats(): LoaderStats {
    return this.pipeline.stats();
  }

  async *iterate(from: number, to: number): AsyncGenerator<ImageBatch> {
    for await (const b of this.pipeline.run(from, to, this.prefetch, (k) => this.sampler.batchIndices(k))) {
      yield { images: b.images, shape: b.shape, labels: b.labels, sampleIndices: b.sampleIndices, batchIndex: b.batchIndex, paths: b.paths };
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<ImageBatch> {
    return this.iterate(this.startBatch, this.endBatch);
  }

  close(): Promise<void> {
    return this.pipeline.close();
  }
}
