// bench/transport.ts's data worker: sends one prebuilt batch per request, through the IPC
// channel or through a /dev/shm file (ShmWriter), as lib/data/worker.ts does.
import { ShmWriter } from '../lib/data/shm.js';

let clips: Float32Array | null = null;
process.on('message', (m: { floats: number; dir: string | null; k: number }) => {
  if (!clips || clips.length !== m.floats) clips = new Float32Array(m.floats).fill(0.5);
  const batch = { batchIndex: m.k, clips, labels: Int32Array.of(1, 2, 3) };
  process.send!(m.dir ? new ShmWriter(m.dir, process.ppid).pack(batch) : batch);
});
process.on('disconnect', () => process.exit(0));
