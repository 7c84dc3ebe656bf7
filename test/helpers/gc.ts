// A forced collection for the tests that count live native buffers: tensors left to the GC
// backstop are freed by FinalizationRegistry callbacks, which come on later turns.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memoryStats } from '../../lib/tensor.js';

setFlagsFromString('--expose-gc');
/** A full collection now. */
export const gc = runInNewContext('gc') as () => void;

/** Collects and lets the backstop's callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** Live native buffers once the garbage of earlier code is freed. */
export async function settledLive(): Promise<number> {
  await settle();
  return memoryStats().liveTensors;
}
