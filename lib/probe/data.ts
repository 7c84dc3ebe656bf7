// Probe data (EVAL-03, EVAL-07): loaders for the train and val splits, the synthetic dataset on
// first use, and batches turned into encoder input [S·V·B, 3, T, H, W] with their layout.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { IMAGE_EVAL, type ImageProbeData, type ProbeConfig, type VideoProbeData } from '../config/probe.js';
import { synthesizeMissing } from '../data/synth.js';
import { ImageFolderLoader, VideoLoader } from '../data/loader.js';
import { scanImageFolder, staticClips } from '../data/image-folder.js';
import { readVideoIndex } from '../data/csv.js';
import { probeTrainTransform } from '../data/transforms.js';
import type { Layout } from './aggregate.js';

export interface ClipBatch {
  /** [S·V·B, 3, T, H, W], segment-major, then view, then sample */
  clips: Float32Array;
  clipShape: number[];
  layout: Layout;
  labels: Int32Array;
  batchIndex: number;
  /** [B] the file each sample was read from (a replacement's, when DATA-02 replaced one) */
  paths: string[];
}

export interface ProbeSplits {
  trainCsv: string[];
  valCsv: string[];
}

/**
 * The index CSVs, creating the synthetic set (same options as the pretraining config's) when missing. Only
 * the `needed` splits are checked (scoring a probe reads the val split alone).
 */
export async function resolveVideoSplits(d: VideoProbeData, log: (s: string) => void, needed: readonly ('train' | 'val')[] = ['train', 'val']): Promise<ProbeSplits> {
  const missing = [...(needed.includes('train') ? d.dataset_train : []), ...(needed.includes('val') ? d.dataset_val : [])].filter((p) => !existsSync(p));
  if (missing.length === 0) return { trainCsv: d.dataset_train, valCsv: d.dataset_val };
  const syn = d.synthetic;
  if (!syn) throw new Error(`data: ${missing.join(', ')} not found (set data.synthetic to create the synthetic dataset)`);
  await synthesizeMissing(missing, syn, 'data', log);
  return { trainCsv: d.dataset_train, valCsv: d.dataset_val };
}

export interface BatchSource {
  /** batches per pass */
  readonly length: number;
  readonly numSamples: number;
  iterate(): AsyncGenerator<ClipBatch>;
  /** Videos (or images) that could not be loaded so far and were replaced by others (DATA-02). */
  failedPaths(): string[];
  close(): Promise<void>;
}

export interface VideoSourceOptions {
  csv: string[];
  training: boolean;
  /** eval transform (centre crop / V windows); for the train split only with the feature cache */
  evalTransform: boolean;
  numSegments: number;
  numViews: number;
  batchSize: number;
  seed: number;
  startBatch?: number;
  passes?: number;
  log: (s: string) => void;
}

/**
 * Decoding processes of the probe's loaders: the original's eval loaders use 12 (num_workers=12,
 * not a config key); every core of a large node would mean as many processes each holding the
 * split's path list.
 */
export const probeWorkers = (): number => Math.min(12, availableParallelism());

export function videoSource(cfg: ProbeConfig, o: VideoSourceOptions): BatchSource {
  const d = cfg.data as VideoProbeData;
  const loader = new VideoLoader({
    csvPaths: o.csv,
    batchSize: o.batchSize,
    framesPerClip: d.frames_per_clip,
    // EVAL-03: the frame step and clip duration come from the pretrain section (§8.18).
    frameStep: cfg.pretrain.frame_step,
    clipDuration: cfg.pretrain.clip_duration,
    numClips: o.numSegments,
    cropSize: cfg.optimization.resolution,
    training: o.training,
    randomClipSampling: true,
    allowClipOverlap: true,
    transform: o.evalTransform ? { kind: 'eval', numViews: o.numViews } : probeTrainTransform(),
    seed: o.seed,
    numClasses: d.num_classes,
    shuffle: o.training,
    // The original's probe loaders keep the last partial batch, training too (drop_last=False).
    dropLast: false,
    passes: o.passes,
    startBatch: o.startBatch ?? 0,
    numWorkers: probeWorkers(),
    log: o.log,
  });
  const V = o.evalTransform ? o.numViews : 1;
  return {
    length: loader.batchesPerEpoch,
    numSamples: loader.numSamples,
    async *iterate() {
      for await (const b of loader) {
        const B = b.labels.length;
        const [T, H, W] = b.shape.slice(-3);
        yield { clips: b.clips, clipShape: [o.numSegments * V * B, 3, T, H, W], layout: { S: o.numSegments, V, B }, labels: b.labels, batchIndex: b.batchIndex, paths: b.paths };
      }
    },
    failedPaths: () => loader.stats().failedPaths,
    close: () => loader.close(),
  };
}

/** How many videos (or images) a split lists, without opening a loader. */
export function splitSize(cfg: ProbeConfig, splits: ProbeSplits | null, split: 'train' | 'val'): number {
  if (splits) return readVideoIndex(split === 'train' ? splits.trainCsv : splits.valCsv).paths.length;
  const d = cfg.data as ImageProbeData;
  return scanImageFolder(join(d.root_path, d.image_folder, split)).paths.length;
}

/** EVAL-07: images become static clips of the encoder's frame count. */
export function imageSource(
  cfg: ProbeConfig,
  o: { split: 'train' | 'val'; training: boolean; evalTransform: boolean; batchSize: number; seed: number; startBatch?: number; passes?: number; log: (s: string) => void },
): BatchSource {
  if (cfg.eval_name !== IMAGE_EVAL) throw new Error('imageSource: not an image probe');
  const d = cfg.data as ImageProbeData;
  const root = join(d.root_path, d.image_folder, o.split);
  const T = cfg.pretrain.frames_per_clip;
  const loader = new ImageFolderLoader({
    root,
    batchSize: o.batchSize,
    cropSize: cfg.optimization.resolution,
    training: o.training && !o.evalTransform,
    seed: o.seed,
    shuffle: o.training,
    dropLast: false,
    passes: o.passes ?? (o.training ? Infinity : 1),
    startBatch: o.startBatch ?? 0,
    numWorkers: probeWorkers(),
    log: o.log,
  });
  if (loader.classes.length > d.num_classes)
    throw new Error(`${root}: ${loader.classes.length} class folders but data.num_classes is ${d.num_classes}`);
  return {
    length: loader.batchesPerEpoch,
    numSamples: loader.numSamples,
    async *iterate() {
      for await (const b of loader) {
        const [B, C, H, W] = b.shape;
        const clips = staticClips(b.images, B, C, H, W, T);
        yield { clips, clipShape: [B, C, T, H, W], layout: { S: 1, V: 1, B }, labels: b.labels, batchIndex: b.batchIndex, paths: b.paths };
      }
    },
    failedPaths: () => loader.stats().failedPaths,
    close: () => loader.close(),
  };
}
