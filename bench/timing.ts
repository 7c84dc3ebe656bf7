// Shared by the kernel benches: deterministic inputs and best-of-N wall time.
import { native, type TensorHandle } from '../lib/native.js';

/** A float32 tensor filled from a small LCG (same values every run). */
export function filled(shape: number[], seed: number): TensorHandle {
  const h = native.empty(shape, 'float32');
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  h.write(a);
  return h;
}

/** Best wall time of fn in seconds, after `warmup` calls, over at least minReps runs and about `budget` seconds. */
export function bestSeconds(fn: () => void, o: { warmup: number; minReps: number; maxReps: number; budget?: number }): number {
  for (let i = 0; i < o.warmup; i++) fn();
  const budget = o.budget ?? 1.0;
  let best = Infinity, total = 0, reps = 0;
  while (reps < o.minReps || (total < budget && reps < o.maxReps)) {
    const t0 = process.hrtime.bigint();
    fn();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.min(best, dt);
    total += dt;
    reps++;
  }
  return best;
}
