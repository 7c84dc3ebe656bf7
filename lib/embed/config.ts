// The encoder architecture and the eval-clip geometry from a pretraining YAML (CFG-01): only the
// `model` and `data` sections matter here, so the other sections are accepted as they are.
import { readYamlFile } from '../config/load.js';
import { pretrainSpec } from '../config/pretrain.js';
import { closestKey } from '../config/suggest.js';
import { problemsMessage, validate, type SectionSpec, type Spec, type ValidationContext } from '../config/schema.js';
import type { VJepaModelConfig } from '../nn/vjepa.js';
import { configOverrides } from '../nn/registry.js';

export interface EmbedModelConfig {
  /** What buildEncoder needs (predictor fields are unused). */
  model: VJepaModelConfig;
  data: {
    numFrames: number;
    cropSize: number;
    patchSize: number;
    tubeletSize: number;
    /** frame step for --video / --csv (data.sampling_rate); null when the YAML omits it */
    samplingRate: number | null;
    clipDuration: number | null;
  };
  warnings: string[];
}

// Keys needed only by training become optional, so an eval-only YAML can omit them.
function loosen(spec: SectionSpec, optional: string[]): SectionSpec {
  const fields: Record<string, Spec> = {};
  for (const [k, s] of Object.entries(spec.fields)) {
    fields[k] = optional.includes(k) ? ({ ...s, required: false } as Spec) : s;
  }
  return { ...spec, fields };
}

const modelSpec = loosen(pretrainSpec.fields.model as SectionSpec, ['pred_depth', 'pred_embed_dim']);
const dataSpec = loosen(pretrainSpec.fields.data as SectionSpec, ['batch_size', 'num_clips', 'sampling_rate']);

export function loadEmbedConfig(file: string): EmbedModelConfig {
  const raw = readYamlFile(file);
  const ctx: ValidationContext = { file, strict: false, setPaths: new Set(), errors: [], warnings: [], unknownKeys: [] };
  for (const s of ['model', 'data']) {
    if (!(s in raw)) {
      const near = closestKey(s, Object.keys(raw));
      ctx.errors.push(`${file}: ${s}: missing section${near ? ` (is ${near} a typo?)` : ''} (vjepa-embed reads the architecture from the pretraining YAML's model and data sections)`);
    }
  }
  const model = 'model' in raw ? (validate(raw.model, modelSpec, 'model', ctx) as Record<string, any>) : {};
  const data = 'data' in raw ? (validate(raw.data, dataSpec, 'data', ctx) as Record<string, any>) : {};
  if (ctx.errors.length === 0) {
    // num_frames 1 is the image model (MOD-02): no tubelets, each frame an image.
    if (data.num_frames > 1 && Math.floor(data.num_frames / data.tubelet_size) < 1) ctx.errors.push(`${file}: data.num_frames: ${data.num_frames} frames give no tubelet of size ${data.tubelet_size}`);
    if (Math.floor(data.crop_size / data.patch_size) < 1) ctx.errors.push(`${file}: data.crop_size: ${data.crop_size} px give no patch of size ${data.patch_size}`);
  }
  if (ctx.errors.length) throw new Error(problemsMessage(ctx));
  return {
    model: {
      modelName: model.model_name,
      overrides: configOverrides(model),
      cropSize: data.crop_size,
      patchSize: data.patch_size,
      numFrames: data.num_frames,
      tubeletSize: data.tubelet_size,
      uniformPower: model.uniform_power,
      predEmbedDim: model.pred_embed_dim ?? 1,
      predDepth: model.pred_depth ?? 1,
      numMaskTokens: 1,
      zeroInitMaskTokens: true,
      seed: 0,
    },
    data: {
      numFrames: data.num_frames,
      cropSize: data.crop_size,
      patchSize: data.patch_size,
      tubeletSize: data.tubelet_size,
      samplingRate: data.sampling_rate ?? null,
      clipDuration: data.clip_duration ?? null,
    },
    warnings: ctx.warnings,
  };
}
