// Frozen-probe config (CFG-03 video, CFG-04 image) plus vjepa's documented extensions.
import {
  deviceSpec,
  readWithOverrides,
  modelOverrideFields,
  strictSpec,
  syntheticSpec,
  threadsSpec,
  validateWith,
  type ConfigLoadOptions,
  type LoadResult,
  type ModelOverrides,
  type SyntheticDataConfig,
} from './common.js';
import { REQ, bool, ignored, int, num, section, str, strlist, type SectionSpec, type ValidationContext } from './schema.js';

export const VIDEO_EVAL = 'video_classification_frozen';
export const IMAGE_EVAL = 'image_classification_frozen';

export interface VideoProbeData {
  dataset_train: string[];
  dataset_val: string[];
  dataset_type: string;
  num_classes: number;
  frames_per_clip: number;
  num_segments: number;
  num_views_per_segment: number;
  synthetic: SyntheticDataConfig | null;
}

export interface ImageProbeData {
  root_path: string;
  image_folder: string;
  num_classes: number;
  resolution: number;
  dataset_name: string;
  synthetic: SyntheticDataConfig | null;
}

export interface ProbeConfig {
  eval_name: typeof VIDEO_EVAL | typeof IMAGE_EVAL;
  tag: string | null;
  resume_checkpoint: boolean;
  /** VideoProbeData when eval_name is video_classification_frozen, else ImageProbeData. */
  data: VideoProbeData | ImageProbeData;
  optimization: {
    /** Video only (false for image probes). */
    attend_across_segments: boolean;
    num_epochs: number;
    /** Video: optimization.resolution; image: copied from data.resolution. */
    resolution: number;
    batch_size: number;
    weight_decay: number;
    lr: number;
    start_lr: number;
    final_lr: number;
    warmup: number;
    use_bfloat16: boolean;
    /** Extension: train the head on frozen features computed once per video (no train augmentation). */
    cache_features: boolean;
    /** Extension: clips per encoder pass (null = all S·V·B of a batch at once, as MOD-14). */
    encoder_batch: number | null;
  };
  pretrain: ModelOverrides & {
    model_name: string;
    checkpoint_key: string;
    clip_duration: number | null;
    frames_per_clip: number;
    frame_step: number;
    tubelet_size: number;
    uniform_power: boolean;
    patch_size: number;
    folder: string;
    /** null = no pretrained weights (random encoder), a vjepa extension for smoke tests. */
    checkpoint: string | null;
    write_tag: string | null;
  };
  /** Extension (the original probe YAML has no meta section). */
  meta: { device: string; threads: number | null; strict: boolean; seed: number };
}

const LAUNCHER = 'cluster launcher sizing; vjepa runs one process (meta.device picks the device)';
const IGNORED_BY_ENCODER = 'swallowed by the original encoder constructor (§8.3)';

const videoData = section({
  dataset_train: strlist({ ...REQ, allowScalar: true }),
  dataset_val: strlist({ ...REQ, allowScalar: true }),
  dataset_type: str({ default: 'VideoDataset' }),
  num_classes: int({ ...REQ, min: 1 }),
  frames_per_clip: int({ default: 16, min: 1 }),
  num_segments: int({ default: 1, min: 1 }),
  num_views_per_segment: int({ default: 1, min: 1 }),
  frame_step: ignored('the original reads the eval frame step from pretrain.frame_step (EVAL-03, §8.18)'),
  synthetic: syntheticSpec,
}, REQ);

const imageData = section({
  root_path: str(REQ),
  image_folder: str(REQ),
  num_classes: int({ ...REQ, min: 1 }),
  resolution: int({ default: 224, min: 1 }),
  dataset_name: str(REQ),
  dataset_type: ignored('image probes pick the dataset from data.dataset_name'),
  synthetic: syntheticSpec,
}, REQ);

function probeSpec(video: boolean): SectionSpec {
  return section({
    nodes: ignored(LAUNCHER),
    tasks_per_node: ignored(LAUNCHER),
    eval_name: str({ ...REQ, enum: [VIDEO_EVAL, IMAGE_EVAL] }),
    tag: str({ nullable: true, default: null }),
    resume_checkpoint: bool({ default: false }),
    data: video ? videoData : imageData,
    optimization: section({
      ...(video
        ? {
            attend_across_segments: bool({ default: false }),
            resolution: int({ default: 224, min: 1 }),
          }
        : {}),
      num_epochs: int({ ...REQ, min: 1 }),
      batch_size: int({ ...REQ, min: 1 }),
      weight_decay: num({ ...REQ, min: 0 }),
      lr: num({ ...REQ, min: 0 }),
      start_lr: num({ ...REQ, min: 0 }),
      final_lr: num({ ...REQ, min: 0 }),
      warmup: num({ ...REQ, min: 0 }),
      use_bfloat16: bool(REQ),
      cache_features: bool({ default: false }),
      encoder_batch: int({ min: 1, nullable: true, default: null }),
    }, REQ),
    pretrain: section({
      model_name: str(REQ),
      checkpoint_key: str({ default: 'target_encoder' }),
      clip_duration: num({ nullable: true, default: null, gt: 0 }),
      frames_per_clip: int({
        default: 1,
        min: 1,
        warnIfAbsent: 'absent, so it defaults to 1 as in the original: an IMAGE encoder is built (MOD-02), which cannot load a video checkpoint (§8.35)',
      }),
      frame_step: int({ default: 4, min: 1 }),
      tubelet_size: int({ default: 2, min: 1 }),
      uniform_power: bool({ default: false }),
      use_sdpa: ignored(IGNORED_BY_ENCODER),
      use_silu: ignored(IGNORED_BY_ENCODER),
      tight_silu: ignored(IGNORED_BY_ENCODER),
      patch_size: int({ ...REQ, min: 1 }),
      folder: str(REQ),
      checkpoint: str({ ...REQ, nullable: true }),
      write_tag: str({ nullable: true, default: null }),
      ...modelOverrideFields,
    }, REQ),
    meta: section({
      device: deviceSpec,
      threads: threadsSpec,
      strict: strictSpec,
      seed: int({ default: 0 }),
    }),
  });
}

function crossCheck(c: ProbeConfig, ctx: ValidationContext): void {
  const warn = (p: string, m: string) => ctx.warnings.push(`${ctx.file}: ${p}: ${m}`);
  if (c.eval_name === IMAGE_EVAL) {
    const d = c.data as ImageProbeData;
    c.optimization.attend_across_segments = false;
    c.optimization.resolution = d.resolution;
  }
  if (c.optimization.use_bfloat16) {
    warn('optimization.use_bfloat16', 'true means float16 autocast with a loss scaler in the original, not bfloat16 (EVAL-05, §8.19)');
  }
  // pretrain.checkpoint: null is warned about once, where the probe builds its encoder (lib/probe/encoder.ts).
}

function pickSpec(raw: unknown): SectionSpec {
  const name = (raw as any)?.eval_name;
  return probeSpec(name !== IMAGE_EVAL);
}

export function validateProbeConfig(
  raw: unknown,
  o: { file?: string; strict?: boolean; setPaths?: Set<string> } = {},
): LoadResult<ProbeConfig> {
  return validateWith<ProbeConfig>(raw, o, pickSpec(raw), crossCheck);
}

/** Read a probe YAML (video or image by eval_name), apply --set overrides, validate, fill defaults. */
export function loadProbeConfig(path: string, sets: readonly string[] = [], opts: ConfigLoadOptions = {}): LoadResult<ProbeConfig> {
  // The schema depends on eval_name, which --set may change, so pick it from the overridden tree.
  const { raw, setPaths } = readWithOverrides(path, sets);
  return validateWith<ProbeConfig>(raw, { file: path, strict: opts.strict, setPaths }, pickSpec(raw), crossCheck);
}
