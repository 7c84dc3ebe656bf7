export * from './types.js';
export * from './multiblock3d.js';
export * from './tube.js';
export * from './collator.js';
