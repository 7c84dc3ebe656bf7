// Tiny probe setups for the tests: a few 32-px synthetic videos, a 1-block D=32 encoder saved in
// our pretraining checkpoint format, and a probe config tree pointing at both (all in os.tmpdir()).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSynthDataset } from '../../lib/data/synth.js';
import { writeSafetensors } from '../../lib/io/safetensors.js';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { InitRng } from '../../lib/nn/init.js';
import { exportStateDict } from '../../lib/nn/state.js';
import { buildEncoder } from '../../lib/nn/vjepa.js';
import type { VisionTransformer } from '../../lib/nn/vit.js';
import { CHECKPOINT_FORMAT } from '../../lib/train/checkpoint.js';
import { validateProbeRun, type ProbeRunConfig } from '../../lib/probe/config.js';

export const TINY = { embed_dim: 32, depth: 1, num_heads: 2, frames: 4, patch: 8, res: 32 };

/** The probe tests' encoder: vit_tiny resized to `shape`, patch 8 from `res` px, tubelet 2, seeded. */
export function tinyEncoder(shape: { embed_dim: number; depth: number; num_heads: number; frames: number; patch: number; res: number }, seed: number): VisionTransformer {
  return buildEncoder(
    {
      modelName: 'vit_tiny',
      overrides: { embed_dim: shape.embed_dim, depth: shape.depth, num_heads: shape.num_heads },
      cropSize: shape.res,
      patchSize: shape.patch,
      numFrames: shape.frames,
      tubeletSize: 2,
      uniformPower: true,
      predEmbedDim: 1,
      predDepth: 0,
      numMaskTokens: 0,
      zeroInitMaskTokens: true,
      seed,
    },
    new InitRng(seed),
  );
}

export async function tinySetup(prefix: string): Promise<{ dir: string; trainCsv: string; valCsv: string; checkpoint: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ds = await ensureSynthDataset(join(dir, 'synth'), { videos: 8, valVideos: 4, classes: 2, frames: 12, width: 32, height: 32, fps: 12, seed: 1 });
  const enc = tinyEncoder(TINY, 9);
  const tensors = new Map<string, HostTensor>();
  // The target encoder gets different weights than `encoder.`, so loading the wrong key is visible.
  for (const [k, v] of exportStateDict(enc, 'target_encoder.')) tensors.set(k, v);
  for (const [k, v] of exportStateDict(enc, 'encoder.')) tensors.set(k, { ...v, data: (v.data as Float32Array).map((x) => x * 0.5) });
  enc.dispose();
  const checkpoint = join(dir, 'jepa-latest.safetensors');
  writeSafetensors(checkpoint, tensors, { format: CHECKPOINT_FORMAT, state: '{}' });
  return { dir, trainCsv: ds.trainCsv, valCsv: ds.valCsv, checkpoint };
}

export function tinyConfig(s: { dir: string; trainCsv: string; valCsv: string }, over: Record<string, any> = {}): ProbeRunConfig {
  return validateProbeRun(tinyRaw(s, over), { file: 'tiny.yaml' });
}

/** The raw config tree behind tinyConfig (for YAML files handed to the CLI). */
export function tinyRaw(s: { dir: string; trainCsv: string; valCsv: string }, over: Record<string, any> = {}): Record<string, any> {
  const raw: Record<string, any> = {
    eval_name: 'video_classification_frozen',
    tag: 'tiny',
    resume_checkpoint: false,
    data: { dataset_train: s.trainCsv, dataset_val: s.valCsv, num_classes: 2, frames_per_clip: TINY.frames, num_segments: 2, num_views_per_segment: 2 },
    optimization: {
      attend_across_segments: true, num_epochs: 2, resolution: TINY.res, batch_size: 4, weight_decay: 0.01,
      lr: 0.001, start_lr: 0.001, final_lr: 0.0, warmup: 0.0, use_bfloat16: false, cache_features: false,
    },
    pretrain: {
      model_name: 'vit_tiny', embed_dim: TINY.embed_dim, depth: TINY.depth, num_heads: TINY.num_heads, checkpoint_key: 'target_encoder',
      frames_per_clip: TINY.frames, frame_step: 2, tubelet_size: 2, uniform_power: true, patch_size: TINY.patch,
      folder: s.dir, checkpoint: 'jepa-latest.safetensors', write_tag: 'jepa',
    },
    meta: { seed: 0, threads: null },
  };
  for (const [path, v] of Object.entries(over)) {
    const keys = path.split('.');
    let node = raw;
    for (const k of keys.slice(0, -1)) node = node[k];
    node[keys[keys.length - 1]] = v;
  }
  return raw;
}

export function snapshot(params: readonly [string, { tensor: { toFloat32Array(): Float32Array } }][]): Map<string, Float32Array> {
  return new Map(params.map(([n, p]) => [n, p.tensor.toFloat32Array()]));
}

export function sameBits(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  const diff: string[] = [];
  if (a.size === 0) diff.push('(nothing to compare)');
  for (const n of b.keys()) if (!a.has(n)) diff.push(`${n} (second only)`);
  for (const [n, x] of a) {
    const y = b.get(n);
    if (!y || y.length !== x.length || !Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength))) diff.push(n);
  }
  return diff;
}

export const quiet = (lines: string[]) => (s: string) => void lines.push(s);

export function writeText(path: string, text: string): void {
  writeFileSync(path, text);
}
