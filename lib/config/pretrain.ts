// Pretraining config (CFG-01, CFG-02) plus vjepa's documented extensions (README.md, "Configuration").
import type { MaskSpec } from '../masks/types.js';
import {
  deviceSpec,
  loadWith,
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
import { REQ, bool, ignored, int, list, num, numlist, pair, section, str, strlist, type ValidationContext } from './schema.js';

export interface MaskConfig extends MaskSpec {
  max_temporal_keep: number;
  max_keep: number | null;
  ratio?: number | null;
}

export interface PretrainConfig {
  app: string;
  data: {
    dataset_type: string;
    mask_type: string;
    datasets: string[];
    datasets_weights: number[] | null;
    batch_size: number;
    num_clips: number;
    num_frames: number;
    tubelet_size: number;
    sampling_rate: number;
    crop_size: number;
    patch_size: number;
    pin_mem: boolean;
    num_workers: number;
    filter_short_videos: boolean;
    clip_duration: number | null;
    /** Extension. */
    synthetic: SyntheticDataConfig | null;
  };
  data_aug: {
    auto_augment: boolean;
    motion_shift: boolean;
    random_resize_aspect_ratio: [number, number];
    random_resize_scale: [number, number];
    reprob: number;
  };
  logging: {
    folder: string;
    write_tag: string;
    /** Extension: extra checkpoint every N iterations (null = only at epoch ends, as the original). */
    checkpoint_every: number | null;
  };
  loss: { loss_exp: number; reg_coeff: number };
  mask: MaskConfig[];
  meta: {
    load_checkpoint: boolean;
    read_checkpoint: string | null;
    seed: number;
    dtype: string;
    save_every_freq: number;
    skip_batches: number;
    /** Extensions. */
    device: string;
    threads: number | null;
    strict: boolean;
    /** Weights to start from, with fresh optimizer, schedules and data stream (ignored on a resume). */
    init_checkpoint: string | null;
  };
  model: ModelOverrides & {
    model_name: string;
    pred_depth: number;
    pred_embed_dim: number;
    uniform_power: boolean;
    use_mask_tokens: boolean;
    zero_init_mask_tokens: boolean;
  };
  optimization: {
    ipe: number | null;
    ipe_scale: number;
    clip_grad: number | null;
    weight_decay: number;
    final_weight_decay: number;
    epochs: number;
    warmup: number;
    start_lr: number;
    lr: number;
    final_lr: number;
    ema: [number, number];
    betas: [number, number];
    eps: number;
  };
}

const LAUNCHER = 'cluster launcher sizing; vjepa runs one process (meta.device picks the device)';

// The block keys are required for multiblock3d only (crossCheck): a tube mask needs `ratio` alone (MASK-04).
export const maskEntrySpec = section({
  spatial_scale: pair({ nullable: true, default: null, min: 0 }),
  temporal_scale: pair({ nullable: true, default: null, min: 0, max: 1 }),
  aspect_ratio: pair({ nullable: true, default: null, min: 0 }),
  num_blocks: int({ nullable: true, default: null, min: 1 }),
  max_temporal_keep: num({ default: 1.0, gt: 0, max: 1 }),
  max_keep: int({ default: null, nullable: true, min: 1 }),
  ratio: num({ nullable: true, min: 0, max: 1 }),
});

export const pretrainSpec = section({
  app: str(REQ),
  nodes: ignored(LAUNCHER),
  tasks_per_node: ignored(LAUNCHER),
  data: section({
    dataset_type: str({ default: 'videodataset' }),
    mask_type: str({ default: 'multiblock3d' }),
    datasets: strlist({ default: [], allowScalar: true }),
    datasets_weights: numlist({
      nullable: true,
      default: null,
      min: 0,
      warnIfPresent: 'has no effect in the original (a weighted draw is reshuffled uniformly, DATA-12)',
    }),
    decode_one_clip: ignored('unused by the original (§8.29)'),
    log_resource_utilization: ignored('the original drops the log dir and the monitor is broken (§8.30)'),
    batch_size: int({ ...REQ, min: 1 }),
    num_clips: int({ ...REQ, min: 1 }),
    num_frames: int({ ...REQ, min: 1 }),
    tubelet_size: int({ ...REQ, min: 1 }),
    sampling_rate: int({ ...REQ, min: 1 }),
    crop_size: int({ default: 224, min: 1 }),
    patch_size: int({ ...REQ, min: 1 }),
    pin_mem: bool({ default: false }),
    num_workers: int({ default: 1, min: 0 }),
    filter_short_videos: bool({ default: false }),
    clip_duration: num({ nullable: true, default: null, gt: 0 }),
    synthetic: syntheticSpec,
  }, REQ),
  data_aug: section({
    auto_augment: bool({ default: false }),
    motion_shift: bool({ default: false }),
    random_resize_aspect_ratio: pair({ default: [3 / 4, 4 / 3], min: 0 }),
    random_resize_scale: pair({ default: [0.3, 1.0], min: 0, max: 1 }),
    reprob: num({ default: 0, min: 0, max: 1 }),
  }),
  logging: section({
    folder: str(REQ),
    write_tag: str(REQ),
    checkpoint_every: int({ nullable: true, default: null, min: 1 }),
  }, REQ),
  loss: section({
    loss_exp: num({ ...REQ, gt: 0 }),
    reg_coeff: num({ ...REQ, min: 0 }),
  }, REQ),
  mask: list(maskEntrySpec, { ...REQ, minLength: 1 }),
  meta: section({
    load_checkpoint: bool({ default: false }),
    read_checkpoint: str({ nullable: true, default: null }),
    seed: int({ default: 0 }),
    eval_freq: ignored('unused by the original (§8.29)'),
    use_sdpa: ignored('the original always uses fused attention; vjepa has one attention path (§8.3)'),
    dtype: str(REQ),
    save_every_freq: int({ default: -1 }),
    skip_batches: int({ default: -1 }),
    device: deviceSpec,
    threads: threadsSpec,
    strict: strictSpec,
    init_checkpoint: str({ nullable: true, default: null }),
  }, REQ),
  model: section({
    model_name: str(REQ),
    pred_depth: int({ ...REQ, min: 1 }),
    pred_embed_dim: int({ ...REQ, min: 1 }),
    uniform_power: bool({ default: true }),
    use_mask_tokens: bool({ default: true }),
    zero_init_mask_tokens: bool({ default: true }),
    ...modelOverrideFields,
  }, REQ),
  optimization: section({
    ipe: int({ nullable: true, default: null, min: 1 }),
    ipe_scale: num({ default: 1.0, gt: 0 }),
    clip_grad: num({ nullable: true, default: null, gt: 0 }),
    weight_decay: num({ ...REQ, min: 0 }),
    final_weight_decay: num({ ...REQ, min: 0 }),
    epochs: int({ ...REQ, min: 1 }),
    warmup: num({ ...REQ, min: 0 }),
    start_lr: num({ ...REQ, min: 0 }),
    lr: num({ ...REQ, min: 0 }),
    final_lr: num({ ...REQ, min: 0 }),
    ema: pair({ ...REQ, min: 0, max: 1 }),
    betas: pair({ default: [0.9, 0.999], min: 0, max: 1 }),
    eps: num({ default: 1e-8, gt: 0 }),
  }, REQ),
});

function crossCheck(c: PretrainConfig, ctx: ValidationContext): void {
  const at = (p: string, m: string) => ctx.errors.push(`${ctx.file}: ${p}: ${m}`);
  const warn = (p: string, m: string) => ctx.warnings.push(`${ctx.file}: ${p}: ${m}`);
  if (c.app !== 'vjepa') warn('app', `"${c.app}" is not "vjepa"; vjepa-train only implements the vjepa app`);
  const { data, optimization: o } = c;
  // num_frames 1 builds the image model (MOD-02), which has no tubelets.
  if (data.num_frames > 1 && Math.floor(data.num_frames / data.tubelet_size) < 1) at('data.num_frames', `${data.num_frames} frames give no tubelet of size ${data.tubelet_size}`);
  if (Math.floor(data.crop_size / data.patch_size) < 1) at('data.crop_size', `${data.crop_size} px give no patch of size ${data.patch_size}`);
  // The original picks its loader by data.dataset_type.lower(); its vjepa app trains on videos.
  if (data.dataset_type.toLowerCase() !== 'videodataset')
    at('data.dataset_type', `"${data.dataset_type}": vjepa-train reads videos from CSV index files (VideoDataset); image datasets are for vjepa-probe`);
  // The original compares which_dtype.lower() (CFG-01).
  c.meta.dtype = c.meta.dtype.toLowerCase();
  if (!['bfloat16', 'float16', 'float32'].includes(c.meta.dtype)) {
    warn('meta.dtype', `"${c.meta.dtype}" is neither bfloat16 nor float16, so training runs in float32 (as the original)`);
  }
  if (c.data.mask_type !== 'multiblock3d') {
    c.mask.forEach((m, i) => {
      if (m.ratio === undefined || m.ratio === null) at(`mask.${i}.ratio`, `required when data.mask_type is "${c.data.mask_type}" (tube masking, MASK-04)`);
    });
  } else {
    c.mask.forEach((m, i) => {
      for (const k of ['spatial_scale', 'temporal_scale', 'aspect_ratio', 'num_blocks'] as const)
        if (m[k] === null || m[k] === undefined) at(`mask.${i}.${k}`, 'required key is missing');
    });
  }
  c.mask.forEach((m, i) => {
    for (const k of ['spatial_scale', 'temporal_scale', 'aspect_ratio'] as const) {
      if (m[k] && m[k][0] > m[k][1]) at(`mask.${i}.${k}`, `min ${m[k][0]} > max ${m[k][1]}`);
    }
  });
  if (o.ipe_scale < 1) warn('optimization.ipe_scale', `${o.ipe_scale} < 1: the lr cosine turns back up and the EMA sequence runs out before training ends (§8.24)`);
  if (o.warmup > o.epochs) warn('optimization.warmup', `warmup (${o.warmup}) is longer than training (${o.epochs} epochs)`);
  if (o.ema[0] > o.ema[1]) warn('optimization.ema', `momentum decreases (${o.ema[0]} -> ${o.ema[1]})`);
}

/** Validate an already-parsed tree (e.g. built in code or by a test). */
export function validatePretrainConfig(
  raw: unknown,
  o: { file?: string; strict?: boolean; setPaths?: Set<string> } = {},
): LoadResult<PretrainConfig> {
  return validateWith<PretrainConfig>(raw, o, pretrainSpec, crossCheck);
}

/** Read a pretraining YAML, apply `--set key.path=value` overrides, validate, fill defaults. */
export function loadPretrainConfig(path: string, sets: readonly string[] = [], opts: ConfigLoadOptions = {}): LoadResult<PretrainConfig> {
  return loadWith<PretrainConfig>(path, sets, opts, pretrainSpec, crossCheck);
}
