export { runEmbed, DEFAULT_BATCH_SIZE, type EmbedRunOptions, type EmbedRunResult } from './run.js';
export { embedBatch, meanTokens, tokenGrid, checkClipShape, tokenIndices, type Pool } from './embed.js';
export { loadEmbedConfig, type EmbedModelConfig } from './config.js';
export { evalClipSource, type EvalClipOptions, type EvalClipBatch, type EvalClipSource } from './video.js';
export { evalImageBatches, type EvalImageBatch } from './images.js';
export { NpyRowReader, NpyRowWriter } from './npy-stream.js';
