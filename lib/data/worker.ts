// Data worker process: builds batches outside the training process (which runs native
// compute and must not fork: see BatchPipeline). Started with child_process.fork.
import { VideoBatchBuilder, type VideoDatasetSpec, type VideoMeta } from './batch-builder.js';
import { ImageBatchBuilder, type ImageDatasetSpec } from './image-folder.js';

type Init = { kind: 'video'; spec: VideoDatasetSpec } | { kind: 'image'; spec: ImageDatasetSpec };
interface Job {
  batchIndex: number;
  indices: Int32Array;
  meta?: [number, VideoMeta][];
}

let video: VideoBatchBuilder | null = null;
let image: ImageBatchBuilder | null = null;
const send = (m: unknown) => process.send!(m);

process.on('message', async (msg: { init: Init } | Job) => {
  if ('init' in msg) {
    video = msg.init.kind === 'video' ? new VideoBatchBuilder(msg.init.spec) : null;
    image = msg.init.kind === 'image' ? new ImageBatchBuilder(msg.init.spec) : null;
    return;
  }
  const job = msg;
  try {
    if (video) {
      if (job.meta) video.learnMeta(job.meta);
      send({ ok: true, batch: await video.build(job.batchIndex, job.indices) });
    } else {
      send({ ok: true, batch: await image!.build(job.batchIndex, job.indices) });
    }
  } catch (e) {
    send({ ok: false, batchIndex: job.batchIndex, message: (e as Error).message });
  }
});
// The parent going away (even by SIGKILL) closes the channel: end with it.
process.on('disconnect', () => process.exit(0));
