// A tiny but complete pretraining setup in a temp dir: a handful of synthetic videos and a
// config that exercises every mechanism in a few seconds.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { ensureSynthDataset } from '../../lib/data/synth.js';

export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const TRAIN_BIN = join(ROOT, 'dist/bin/vjepa-train.js');

let datasetCsv: Promise<string> | null = null;

/** One small dataset shared by the tests of this process. */
export function tinyDataset(): Promise<string> {
  if (!datasetCsv) {
    const dir = join(tmpdir(), 'vjepa-test-train-data');
    datasetCsv = ensureSynthDataset(dir, { videos: 8, valVideos: 2, classes: 2, frames: 24, width: 40, height: 40, fps: 12, seed: 3 }).then((d) => d.trainCsv);
  }
  return datasetCsv;
}

export function tinyConfigYaml(csv: string, folder: string, extra = ''): string {
  return `app: vjepa
data:
  datasets: [${csv}]
  batch_size: 2
  num_clips: 1
  num_frames: 4
  tubelet_size: 2
  sampling_rate: 2
  crop_size: 32
  patch_size: 8
  num_workers: 1
data_aug: {random_resize_aspect_ratio: [0.75, 1.35], random_resize_scale: [0.3, 1.0]}
loss: {loss_exp: 1.0, reg_coeff: 0.0}
mask:
  - {aspect_ratio: [0.75, 1.5], num_blocks: 2, spatial_scale: [0.15, 0.15], temporal_scale: [1.0, 1.0]}
  - {aspect_ratio: [0.75, 1.5], num_blocks: 1, spatial_scale: [0.5, 0.5], temporal_scale: [1.0, 1.0]}
meta: {seed: 7, dtype: float32, threads: 2}
model: {model_name: vit_tiny, embed_dim: 32, depth: 2, num_heads: 2, pred_depth: 1, pred_embed_dim: 16}
optimization:
  ipe: 4
  epochs: 3
  warmup: 1
  ipe_scale: 1.25
  clip_grad: 1.0
  weight_decay: 0.04
  final_weight_decay: 0.4
  start_lr: 0.0002
  lr: 0.001
  final_lr: 1.0e-6
  ema: [0.99, 1.0]
logging: {folder: ${folder}, write_tag: jepa}
${extra}`;
}

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `vjepa-${name}-`));
}

export function writeConfig(dir: string, yaml: string): string {
  const p = join(dir, 'config.yaml');
  writeFileSync(p, yaml);
  return p;
}

export function runTrain(args: string[]): ChildProcess {
  return spawn(process.execPath, [TRAIN_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function finish(p: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  let out = '';
  p.stdout?.on('data', (d) => (out += d));
  p.stderr?.on('data', (d) => (out += d));
  return new Promise((res) => p.on('close', (code, signal) => res({ code, signal, out })));
}
