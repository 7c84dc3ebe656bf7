// worker_threads entry: builds batches off the main thread (which runs native compute).
import { parentPort, workerData } from 'node:worker_threads';
import { VideoBatchBuilder, type VideoDatasetSpec, type VideoMeta } from './batch-builder.js';
import { ImageBatchBuilder, type ImageDatasetSpec } from './image-folder.js';

type Init = { kind: 'video'; spec: VideoDatasetSpec } | { kind: 'image'; spec: ImageDatasetSpec };
interface Job {
  batchIndex: number;
  indices: Int32Array;
  meta?: [number, VideoMeta][];
}

const init = workerData as Init;
const port = parentPort!;
const video = init.kind === 'video' ? new VideoBatchBuilder(init.spec) : null;
const image = init.kind === 'image' ? new ImageBatchBuilder(init.spec) : null;

port.on('message', async (job: Job) => {
  try {
    if (video) {
      if (job.meta) video.learnMeta(job.meta);
      const b = await video.build(job.batchIndex, job.indices);
      port.postMessage({ ok: true, batch: b }, [b.clips.buffer as ArrayBuffer]);
    } else {
      const b = await image!.build(job.batchIndex, job.indices);
      port.postMessage({ ok: true, batch: b }, [b.images.buffer as ArrayBuffer]);
    }
  } catch (e) {
    port.postMessage({ ok: false, batchIndex: job.batchIndex, message: (e as Error).message });
  }
});
