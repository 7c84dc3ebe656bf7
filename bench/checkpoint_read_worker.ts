// One side of bench/checkpoint_read.ts, in its own process: the target encoder as vjepa-probe reads it.
import { readEncoderStateDict } from '../lib/nn/checkpoint-load.js';

const t0 = performance.now();
const sd = readEncoderStateDict(process.argv[2]);
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ seconds, maxrssMiB: process.resourceUsage().maxRSS / 1024, tensors: sd.tensors.size }));
