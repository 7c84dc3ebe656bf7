export * from './types.js';
export * from './multiblock3d.js';
export * from './tube.js';
export * from './collator.js';
// The generators' sample(batchSize, rng) takes one (data.Rng is a different, counter-based stream).
export { Rng } from '../util/rng.js';
