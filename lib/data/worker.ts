// Data worker process: builds batches outside the training process (which runs native
// compute and must not fork: see BatchPipeline). Started with child_process.fork.
import { VideoBatchBuilder, type VideoDatasetSpec, type VideoMeta } from './batch-builder.js';
import { ImageBatchBuilder, type ImageDatasetSpec } from './image-folder.js';
import { ShmWriter } from './shm.js';

type Init = { kind: 'video'; spec: VideoDatasetSpec } | { kind: 'image'; spec: ImageDatasetSpec };
interface Job {
  batchIndex: number;
  indices: Int32Array;
  meta?: [number, VideoMeta][];
}

let video: VideoBatchBuilder | null = null;
let image: ImageBatchBuilder | null = null;
let shm: ShmWriter | null = null;
// A parent killed mid-send (SIGTERM, a timeout) fails the write with EPIPE: with a callback that is
// not an 'error' event whose stack trace the parent's terminal would print, just the end.
const send = (m: unknown) => {
  if (!process.connected) return;
  process.send!(m, (err: Error | null) => {
    if (err) {
      shm?.cleanup();
      process.exit(0);
    }
  });
};
/** clip buffers of sent batches, for the next builds */
const spare: Float32Array[] = [];
const packed = (b: object) => (shm ? shm.pack(b as Record<string, unknown>) : b);

process.on('message', async (msg: { init: Init; shm: string | null } | Job) => {
  if ('init' in msg) {
    video = msg.init.kind === 'video' ? new VideoBatchBuilder(msg.init.spec) : null;
    image = msg.init.kind === 'image' ? new ImageBatchBuilder(msg.init.spec) : null;
    shm = msg.shm ? new ShmWriter(msg.shm, process.ppid, (m) => console.error(m)) : null;
    return;
  }
  const job = msg;
  try {
    if (video) {
      if (job.meta) video.learnMeta(job.meta);
      const batch = await video.build(job.batchIndex, job.indices, spare.pop());
      // sent (copied into a file or the channel's buffer) synchronously: the clips can be reused
      send({ ok: true, batch: packed(batch) });
      if (spare.length < 2) spare.push(batch.clips);
    } else {
      send({ ok: true, batch: packed(await image!.build(job.batchIndex, job.indices)) });
    }
  } catch (e) {
    send({ ok: false, batchIndex: job.batchIndex, message: (e as Error).message, failures: (e as { failures?: unknown }).failures });
  }
});
// The parent going away (even by SIGKILL) closes the channel: end with it, and take back the
// batch files it never read.
process.on('disconnect', () => {
  shm?.cleanup();
  process.exit(0);
});
// loader.close() ends workers with SIGTERM: stop their ffmpeg processes, which would go on
// writing decoded frames into /dev/shm (the 'exit' hook runs stopDecoders)
process.on('SIGTERM', () => {
  shm?.cleanup();
  process.exit(143);
});
