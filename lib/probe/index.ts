export * from './config.js';
export * from './encoder.js';
export * from './aggregate.js';
export * from './data.js';
export * from './features.js';
export * from './checkpoint.js';
export * from './log.js';
export * from './probe.js';
