export * from './pretrain.js';
export * from './probe.js';
export { parseSet, applySets, type SetOverride } from './overrides.js';
export { readYamlFile } from './load.js';
export type { ConfigLoadOptions, LoadResult, ModelOverrides, SyntheticDataConfig } from './common.js';
