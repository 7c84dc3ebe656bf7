// Batches from a data worker process to the trainer: through a /dev/shm file (lib/data/shm.ts,
// what the loaders use on Linux) against Node's IPC channel (what they used before, and still
// use without /dev/shm). Time per batch on the trainer's side, from the request to the clips in
// a native tensor, median of 5 after one warm-up.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { native } from '../lib/native.js';
import { shmDir, unpack } from '../lib/data/shm.js';
import { Tensor } from '../lib/tensor.js';
import type { BenchRow } from './types.js';

const CASES = [
  { name: 'default config B8 (8x64², 3 MB)', floats: 8 * 3 * 8 * 64 * 64 },
  { name: 'ViT-L/16 B16 (16x224², 154 MB)', floats: 16 * 3 * 16 * 224 * 224 },
];

async function msPerBatch(floats: number, dir: string | null): Promise<number> {
  const w = fork(fileURLToPath(new URL('./transport_worker.js', import.meta.url)), [], { serialization: 'advanced' });
  try {
    const times: number[] = [];
    for (let k = 0; k < 6; k++) {
      const t0 = performance.now();
      const msg = await new Promise<Record<string, unknown>>((resolve) => {
        w.once('message', (m) => resolve(m as Record<string, unknown>));
        w.send({ floats, dir, k });
      });
      const b = unpack<{ clips: Float32Array }>(msg, native.mapFile);
      Tensor.from(b.clips, [b.clips.length]).dispose();
      if (k > 0) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  } finally {
    w.kill();
  }
}

export async function benchTransport(): Promise<BenchRow[]> {
  const dir = shmDir() ?? '/dev/shm';
  const rows: BenchRow[] = [];
  for (const c of CASES) {
    const ipc = await msPerBatch(c.floats, null);
    const shm = await msPerBatch(c.floats, dir);
    rows.push({ group: 'loader', name: `batch to the trainer, ${c.name}`, unit: 'ms', ours: shm, reference: ipc, referenceName: 'Node IPC channel (advanced serialization)', higherIsBetter: false });
  }
  return rows;
}
