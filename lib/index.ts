// The package's entry point (package.json "main"): `import { Tensor, pretrain, data } from 'vjepa'`.
// The CLIs' building blocks, flat where the names are unambiguous and by area (config, data,
// masks, probe, embed) where the areas' own index files already group them. Deep imports of
// dist/lib/... keep working for everything else.
export { Tensor, tidy, tidyAsync, keep, disposeAll, memoryStats, setNumThreads, numThreads, type Device, type DType } from './tensor.js';
export { backward, noGrad } from './autograd.js';
export { native } from './native.js';
export { selectDevice, describeDevice } from './device.js';

// InitRng is needed to construct a VisionTransformer / call buildEncoder; the types below are the
// ones the exported signatures take or return, so callers can name them without deep imports.
export { InitRng } from './nn/init.js';
export { Module, Parameter } from './nn/module.js';
export { VisionTransformer, type VitConfig } from './nn/vit.js';
export { Predictor, type PredictorConfig } from './nn/predictor.js';
export { AttentivePooler, AttentiveClassifier } from './nn/pooler.js';
export { VJepa, buildEncoder, type VJepaModelConfig } from './nn/vjepa.js';
export { VIT_VARIANTS, resolveVariant, type VariantSpec, type ModelOverrides } from './nn/registry.js';
export {
  loadEncoderCheckpoint, readEncoderStateDict, describeLoad,
  type EncoderCheckpointOptions, type EncoderCheckpointReport, type EncoderStateDict, type CheckpointFormat,
} from './nn/checkpoint-load.js';
export { exportCheckpointSection, type ExportOptions, type ExportResult } from './nn/export.js';
export { readSafetensors, writeSafetensors, type SafetensorsFile, type HostTensor, type HostDType } from './io/safetensors.js';
export { readTorchCheckpoint, type ReadSelect } from './io/torch-pickle.js';
export { autocast, type MatmulDtype } from './ops/autocast.js';

export { AdamW, clipGradNorm, gradNorm, type AdamWOptions, type ParamGroup } from './optim/adamw.js';
export {
  WarmupCosineSchedule, CosineWDSchedule, EmaMomentumSchedule,
  type WarmupCosineOptions, type CosineWDOptions, type EmaMomentumOptions,
} from './optim/schedules.js';

export { pretrain, buildModel, buildMaskCollator, buildLoader, type PretrainOptions, type PretrainResult } from './train/pretrain.js';
// Named apart from masks.MaskPair (host index arrays): pretrainStep takes int32 tensors.
export { pretrainStep, type MaskPair as StepMaskPair, type StepSettings, type StepRecord } from './train/iteration.js';
export { saveCheckpoint, loadCheckpoint, type LoopState, type LoadedCheckpoint } from './train/checkpoint.js';
export { tuneAttention, attentionShapes, type AttnChoice, type AttnShape, type TuneOptions } from './ops/attention-tuning.js';

export * as config from './config/index.js';
export * as data from './data/index.js';
export * as masks from './masks/index.js';
export * as probe from './probe/index.js';
export * as embed from './embed/index.js';
