// The package's entry point (package.json "main"): `import { Tensor, pretrain, data } from 'vjepa'`.
// The CLIs' building blocks, flat where the names are unambiguous and by area (config, data,
// masks, probe, embed) where the areas' own index files already group them. Deep imports of
// dist/lib/... keep working for everything else.
export { Tensor, tidy, tidyAsync, keep, disposeAll, memoryStats, setNumThreads, numThreads, type Device, type DType } from './tensor.js';
export { backward, noGrad } from './autograd.js';
export { native } from './native.js';
export { selectDevice, describeDevice } from './device.js';

export { VisionTransformer, type VitConfig } from './nn/vit.js';
export { VJepa, buildEncoder, type VJepaModelConfig } from './nn/vjepa.js';
export { VIT_VARIANTS, resolveVariant } from './nn/registry.js';
export { loadEncoderCheckpoint, readEncoderStateDict, describeLoad } from './nn/checkpoint-load.js';
export { exportCheckpointSection } from './nn/export.js';
export { readSafetensors, writeSafetensors } from './io/safetensors.js';
export { readTorchCheckpoint } from './io/torch-pickle.js';

export { AdamW, clipGradNorm, gradNorm } from './optim/adamw.js';
export { WarmupCosineSchedule, CosineWDSchedule, EmaMomentumSchedule } from './optim/schedules.js';

export { pretrain, buildModel, buildMaskCollator, buildLoader, type PretrainOptions, type PretrainResult } from './train/pretrain.js';
export { pretrainStep } from './train/iteration.js';
export { saveCheckpoint, loadCheckpoint } from './train/checkpoint.js';
export { tuneAttention, attentionShapes, type AttnChoice } from './ops/attention-tuning.js';

export * as config from './config/index.js';
export * as data from './data/index.js';
export * as masks from './masks/index.js';
export * as probe from './probe/index.js';
export * as embed from './embed/index.js';
