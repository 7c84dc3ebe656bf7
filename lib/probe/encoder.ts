// The frozen encoder of a probe (EVAL-02): built as the config says, loaded strictly from our
// pretraining checkpoints or the official .pth.tar files, then never updated.
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { ProbeConfig } from '../config/probe.js';
import { readEncoderStateDict, type EncoderStateDict } from '../nn/checkpoint-load.js';
import { InitRng } from '../nn/init.js';
import { keepOwnPositionTables, loadStateDict } from '../nn/state.js';
import { buildEncoder } from '../nn/vjepa.js';
import { configOverrides } from '../nn/registry.js';
import type { VisionTransformer } from '../nn/vit.js';

/** Where the pretrained weights are: a path in `pretrain.checkpoint` wins over `pretrain.folder`. */
export function resolveEncoderCheckpoint(cfg: ProbeConfig): string | null {
  const ck = cfg.pretrain.checkpoint;
  if (ck === null) return null;
  const inFolder = join(cfg.pretrain.folder, ck);
  const looksLikePath = isAbsolute(ck) || ck.includes('/') || ck.includes('\\');
  const path = looksLikePath ? ck : existsSync(inFolder) || !existsSync(ck) ? inFolder : ck;
  if (!existsSync(path)) {
    throw new Error(
      `pretrain.checkpoint: ${path} not found. Run \`vjepa-train configs/pretrain.yaml\` first to pretrain an encoder ` +
        `(it writes <logging.folder>/jepa-latest.safetensors), point pretrain.folder / pretrain.checkpoint at an existing file, ` +
        `or use --set pretrain.checkpoint=null to probe a randomly initialised encoder.`,
    );
  }
  return path;
}

/**
 * The encoder state dict inside a checkpoint file, by `checkpoint_key`. EVAL-02 falls back to
 * `encoder` whatever key is missing; here only the default key does (checkpoints that hold no
 * target encoder), so a typo such as `ema` is an error rather than a silent probe of the online
 * encoder.
 */
export function readEncoderWeights(path: string, key: string): EncoderStateDict {
  try {
    return readEncoderStateDict(path, key === 'target_encoder' ? undefined : key);
  } catch (e) {
    throw new Error(`pretrain.checkpoint_key: ${(e as Error).message}`);
  }
}

export interface FrozenEncoder {
  encoder: VisionTransformer;
  /** null for the random-init baseline. */
  checkpoint: string | null;
}

export function buildFrozenEncoder(cfg: ProbeConfig, log: (s: string) => void = () => undefined): FrozenEncoder {
  const p = cfg.pretrain;
  const path = resolveEncoderCheckpoint(cfg);
  const encoder = buildEncoder(
    {
      modelName: p.model_name,
      overrides: configOverrides(p),
      cropSize: cfg.optimization.resolution,
      patchSize: p.patch_size,
      numFrames: p.frames_per_clip,
      tubeletSize: p.tubelet_size,
      uniformPower: p.uniform_power,
      predEmbedDim: 1,
      predDepth: 0,
      numMaskTokens: 0,
      zeroInitMaskTokens: true,
      seed: cfg.meta.seed,
    },
    // A checkpoint (loaded strictly) overwrites every weight: drawing them first would be wasted.
    path ? InitRng.uninitialised() : new InitRng(cfg.meta.seed),
  );
  try {
    loadInto(encoder, cfg, path, log);
    encoder.setTrainable(false);
    return { encoder, checkpoint: path };
  } catch (e) {
    encoder.dispose(); // a failed load must not leave the freshly built weights behind
    throw e;
  }
}

function loadInto(encoder: VisionTransformer, cfg: ProbeConfig, path: string | null, log: (s: string) => void): void {
  const p = cfg.pretrain;
  if (path) {
    const { tensors: sd, key } = readEncoderWeights(path, p.checkpoint_key);
    // EVAL-02: a pos_embed of another size (another resolution or frame count) keeps the model's own table.
    for (const note of keepOwnPositionTables(encoder, sd)) log(`encoder: ${note} (EVAL-02)`);
    const what = key === null ? 'a bare state dict' : `section ${key}`;
    const w = sd.get([...sd.keys()].find((k) => k.endsWith('patch_embed.proj.weight')) ?? '');
    if (encoder.isImage && w?.shape.length === 5) {
      // §8.35: the original skips the video patch embedding here and probes a random one.
      throw new Error(
        `${path}: holds a video encoder (patch_embed.proj.weight [${w.shape.join(', ')}]), but pretrain.frames_per_clip is 1, ` +
          `which builds the image model (MOD-02; 1 is the original's default when the key is absent, §8.35): ` +
          `set pretrain.frames_per_clip to the frames the encoder was trained on (16 for the released models)`,
      );
    }
    const r = loadStateDict(encoder, sd, { what: `${path} (${what})` });
    log(`encoder: loaded ${r.loaded.length} tensors from ${path} (${what})`);
  } else {
    log('warning: pretrain.checkpoint is null: probing a RANDOMLY INITIALISED encoder (baseline)');
  }
}
