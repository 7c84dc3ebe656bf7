import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fork, spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { scriptExecArgv } from '../../lib/util/process.js';
import { VideoLoader, ImageFolderLoader, type VideoBatch, type VideoLoaderOptions } from '../../lib/data/loader.js';
import { KEEP_META, VideoBatchBuilder, type VideoDatasetSpec } from '../../lib/data/batch-builder.js';
import { encodeFrames } from '../../lib/data/encode.js';
import { indexFrames, makeIndexVideo, readIndexClip, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir('loader');
const S = 32;
const good: { path: string; frames: number; label: number }[] = [];
let goodCsv = '';
let mixedCsv = '';
let badCsv = '';

test('setup: index videos (some short), a missing, a 0-byte and a corrupt file', async () => {
  const lengths = [50, 60, 50, 70, 20, 50, 64, 90];
  await Promise.all(
    lengths.map(async (n, i) => {
      const path = join(dir, `v${i}.${i % 2 ? 'avi' : 'mp4'}`);
      await makeIndexVideo(path, n, S, S, i % 2 ? 'mpeg4' : 'h264');
      good.push({ path, frames: n, label: i });
    }),
  );
  good.sort((a, b) => a.label - b.label);
  goodCsv = join(dir, 'good.csv');
  writeFileSync(goodCsv, good.map((g) => `${g.path} ${g.label}`).join('\n') + '\n');
  writeFileSync(join(dir, 'empty.mp4'), '');
  writeFileSync(join(dir, 'corrupt.mp4'), Buffer.alloc(5000, 7));
  mixedCsv = join(dir, 'mixed.csv');
  writeFileSync(
    mixedCsv,
    [...good.map((g) => `${g.path} ${g.label}`), `${join(dir, 'missing.mp4')} 100`, `${join(dir, 'empty.mp4')} 101`, `${join(dir, 'corrupt.mp4')} 102`].join('\n') + '\n',
  );
  badCsv = join(dir, 'bad.csv');
  writeFileSync(badCsv, `${good[0].path} 0\n${good[1].path}\n`);
});

const base = (o: Partial<VideoLoaderOptions>): VideoLoaderOptions => ({
  csvPaths: [goodCsv],
  batchSize: 4,
  framesPerClip: 8,
  frameStep: 4,
  numClips: 1,
  cropSize: S,
  training: true,
  // full-frame box, no flip: the output is the decoded frame itself, so the index can be read back
  transform: { scale: [1, 1], ratio: [1, 1], flip: false },
  seed: 3,
  numWorkers: 2,
  minFileBytes: 100,
  log: () => undefined,
  ...o,
});

async function take(loader: VideoLoader, n: number): Promise<VideoBatch[]> {
  const out: VideoBatch[] = [];
  for await (const b of loader) {
    out.push(b);
    if (out.length >= n) break;
  }
  return out;
}

function frameIndices(b: VideoBatch, clip: number, slot: number): number[] {
  const [, B, , T] = b.shape;
  const off = (clip * B + slot) * 3 * T * S * S;
  return Array.from({ length: T }, (_, t) => readIndexClip(b.clips, off, T, S, t));
}

test('exact frame indices through the loader (DATA-03 cases A and B, deterministic start)', async () => {
  const loader = new VideoLoader(base({ randomClipSampling: false, shuffle: false, dropLast: false, passes: 1, training: true }));
  const batches = await take(loader, 10);
  await loader.close();
  assert.is(batches.length, 2);
  assert.equal(batches[0].shape, [1, 4, 3, 8, S, S]);
  assert.equal(batches[1].shape, [1, 4, 3, 8, S, S]);
  for (const b of batches) {
    for (let j = 0; j < b.labels.length; j++) {
      const g = good[b.sampleIndices[j]];
      assert.is(b.labels[j], g.label);
      const got = frameIndices(b, 0, j);
      // L=20 -> case B (P <= span 32); otherwise case A with end fixed at span
      const want = g.frames === 20 ? [0, 5, 10, 15, 19, 19, 19, 19] : [0, 4, 9, 13, 18, 22, 27, 31];
      assert.equal(got, want, g.path);
    }
  }
});

test('random clip sampling: offsets keep their shape, starts vary and stay in range', async () => {
  const loader = new VideoLoader(base({ numClips: 2, batchSize: 8 }));
  const starts = new Set<number>();
  for (const b of await take(loader, 2)) {
    for (let j = 0; j < 8; j++) {
      const g = good[b.sampleIndices[j]];
      const P = Math.floor(g.frames / 2);
      for (let c = 0; c < 2; c++) {
        const idx = frameIndices(b, c, j);
        if (P > 32) {
          assert.equal(idx.map((v) => v - idx[0]), [0, 4, 9, 13, 18, 22, 27, 31]);
          assert.ok(idx[0] >= c * P && idx[0] + 32 <= c * P + P - 1, `${g.path} clip ${c}: ${idx}`);
          starts.add(idx[0] - c * P);
        } else {
          assert.is(idx[0], c * P);
        }
      }
    }
  }
  await loader.close();
  assert.ok(starts.size > 3, `starts ${[...starts]}`);
});

test('determinism: same batches for 1 or 2 workers, and startBatch k reproduces batch k (exact resume)', async () => {
  const o = base({ transform: { scale: [0.3, 1], ratio: [0.75, 1.35], flip: true }, batchSize: 3 });
  const a = new VideoLoader({ ...o, numWorkers: 1 });
  const runA = await take(a, 5);
  await a.close();
  const b = new VideoLoader({ ...o, numWorkers: 2, prefetch: 3 });
  const runB = await take(b, 5);
  await b.close();
  assert.is(a.batchesPerEpoch, 2);
  for (let k = 0; k < 5; k++) {
    assert.is(runB[k].batchIndex, k);
    assert.equal(Array.from(runA[k].sampleIndices), Array.from(runB[k].sampleIndices));
    assert.ok(runA[k].clips.length > 0 && runA[k].clips.length === runB[k].clips.length && runA[k].clips.every((v, i) => v === runB[k].clips[i]), `batch ${k} differs`);
  }
  // batch 4 comes from the third pass; a fresh loader decodes it whole while the long run used cached frame counts
  const c = new VideoLoader({ ...o, startBatch: 4 });
  const [resumed] = await take(c, 1);
  await c.close();
  assert.is(resumed.batchIndex, 4);
  assert.ok(resumed.clips.length > 0 && resumed.clips.length === runA[4].clips.length && resumed.clips.every((v, i) => v === runA[4].clips[i]), 'resumed batch differs');
  const passes = [0, 1].map((p) => [2 * p, 2 * p + 1].flatMap((k) => Array.from(runA[k].sampleIndices)).join());
  assert.not.equal(passes[0], passes[1]);
});

test('seeking to the keyframe before each clip changes no pixel, and does happen', async () => {
  // 8 videos of 20-90 frames with a keyframe every 8: from the second pass on, clips start at keyframes
  const o = base({ transform: { scale: [0.3, 1], ratio: [0.75, 1.35], flip: true }, batchSize: 4, numWorkers: 1 });
  const on = new VideoLoader({ ...o, seek: true });
  const withSeek = await take(on, 8);
  const st = on.stats();
  await on.close();
  const off = new VideoLoader({ ...o, seek: false });
  const without = await take(off, 8);
  const st0 = off.stats();
  await off.close();
  for (let k = 0; k < 8; k++) {
    assert.equal(Array.from(withSeek[k].sampleIndices), Array.from(without[k].sampleIndices));
    assert.ok(withSeek[k].clips.length > 0 && withSeek[k].clips.length === without[k].clips.length && withSeek[k].clips.every((v, i) => v === without[k].clips[i]), `batch ${k} differs`);
  }
  assert.ok(st.seeked >= 6, `${st.seeked} seeks`);
  assert.is(st.seekFallbacks, 0);
  assert.is(st0.seeked, 0);
});

test('failures: missing, 0-byte, corrupt and too-short files are logged once, replaced and counted', async () => {
  const logs: string[] = [];
  const loader = new VideoLoader(base({ csvPaths: [mixedCsv], batchSize: 11, filterShortVideos: true, log: (m) => logs.push(m), maxFailureFraction: 0.9 }));
  const batches = await take(loader, 2);
  const st = loader.stats();
  await loader.close();
  const bad = new Set(['missing.mp4', 'empty.mp4', 'corrupt.mp4', 'v4.mp4'].map((f) => join(dir, f)));
  for (const b of batches) {
    for (let j = 0; j < 11; j++) {
      assert.ok(!bad.has(b.paths[j]), `bad sample used: ${b.paths[j]}`);
      assert.is(b.labels[j], good[b.sampleIndices[j]].label);
    }
  }
  assert.equal(new Set(st.failedPaths), bad);
  assert.ok(st.failed >= 8, `failed ${st.failed}`); // every bad file is drawn at least once per pass
  assert.is(st.replaced, st.failed);
  assert.is(st.decoded, 22);
  assert.is(logs.length, 5);
  assert.is(logs[0], `data: 1 of 11 listed videos do not exist (they will be replaced by other samples when loaded):\n  ${mixedCsv}:9: "${join(dir, 'missing.mp4')}"`, 'warned up front, with file and line');
  assert.ok(logs.some((l) => l.includes('empty.mp4') && l.includes('0 bytes')));
  assert.ok(logs.some((l) => l.includes('missing.mp4') && l.includes('not found')));
  assert.ok(logs.some((l) => l.includes('v4.mp4') && l.includes('too short')));
  // A second loader on the same index (the probe's val loader each epoch) does not report it again,
  // and knows the frame counts of the 8 videos that decoded (the too-short one included).
  const again: string[] = [];
  const second = new VideoLoader(base({ csvPaths: [mixedCsv], log: (m) => again.push(m) }));
  await second.close();
  assert.equal(again, []);
  assert.is(second.stats().metaCached, 8);
});

test('failure fraction above maxFailureFraction throws a clear error', async () => {
  const loader = new VideoLoader(base({ csvPaths: [mixedCsv], batchSize: 11, filterShortVideos: true, maxFailureFraction: 0.05 }));
  let err: Error | null = null;
  try {
    await take(loader, 4);
  } catch (e) {
    err = e as Error;
  }
  await loader.close();
  assert.ok(err, 'no error');
  assert.match(err!.message, /sample loads failed .* above maxFailureFraction=0\.05/);
});

test('a bad CSV line and an out-of-range label name the file and line', () => {
  assert.throws(() => new VideoLoader(base({ csvPaths: [badCsv] })), /bad\.csv:2: expected "path label"/);
  assert.throws(() => new VideoLoader(base({ csvPaths: [goodCsv], numClasses: 5 })), /good\.csv:6: label 5 is out of range \[0, 4\]/);
});

test('eval: [numClips, numViews, B, 3, T, S, S], one pass, last batch kept', async () => {
  const loader = new VideoLoader(base({ training: false, batchSize: 3, numClips: 2, transform: { numViews: 3 }, cropSize: 16 }));
  const bs: VideoBatch[] = [];
  for await (const b of loader) bs.push(b);
  await loader.close();
  assert.equal(bs.map((b) => b.shape), [[2, 3, 3, 3, 8, 16, 16], [2, 3, 3, 3, 8, 16, 16], [2, 3, 2, 3, 8, 16, 16]]);
  assert.equal(bs.flatMap((b) => Array.from(b.sampleIndices)), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.is(bs[2].clips.length, 2 * 3 * 2 * 3 * 8 * 16 * 16);
  // square frames: the 3 views are identical (DATA-10)
  const n = 3 * 8 * 16 * 16;
  const view = (v: number) => bs[0].clips.subarray((v * 3 + 0) * n, (v * 3 + 1) * n);
  assert.ok(view(0).every((x, i) => x === view(2)[i]));
});

test('ImageFolderLoader: class subfolders, [B, 3, S, S], train and val', async () => {
  const root = join(dir, 'images');
  for (const [c, n] of [['cat', 3], ['dog', 2]] as const) {
    mkdirSync(join(root, c), { recursive: true });
    for (let i = 0; i < n; i++) {
      await encodeFrames(indexFrames(1, 40, 30, i + (c === 'dog' ? 100 : 0)), join(root, c, `${i}.png`), { width: 40, height: 30, codec: 'png' });
    }
  }
  const val = new ImageFolderLoader({ root, batchSize: 2, cropSize: 16, training: false, seed: 0, numWorkers: 1 });
  const vb = [];
  for await (const b of val) vb.push(b);
  await val.close();
  assert.equal(val.classes, ['cat', 'dog']);
  assert.equal(vb.map((b) => b.shape), [[2, 3, 16, 16], [2, 3, 16, 16], [1, 3, 16, 16]]);
  assert.equal(vb.flatMap((b) => Array.from(b.labels)), [0, 0, 0, 1, 1]);
  const train = new ImageFolderLoader({ root, batchSize: 4, cropSize: 16, training: true, seed: 1, numWorkers: 1 });
  const it = train[Symbol.asyncIterator]();
  const t0 = (await it.next()).value;
  await train.close();
  assert.equal(t0.shape, [4, 3, 16, 16]);
  assert.ok(t0.images.every((v: number) => Number.isFinite(v)));
  assert.ok(readFileSync(join(root, 'cat', '0.png')).length > 0);
});

test('batches through /dev/shm files equal those through the IPC channel, and no file is left behind', async () => {
  const shm = join(dir, 'shm');
  mkdirSync(shm);
  const run = async (env: string) => {
    process.env.VJEPA_SHM_DIR = env;
    try {
      const loader = new VideoLoader(base({ seed: 11 }));
      const batches = await take(loader, 3);
      const st = loader.stats();
      await loader.close();
      return { batches, st };
    } finally {
      delete process.env.VJEPA_SHM_DIR;
    }
  };
  const viaFile = await run(shm);
  // decoded frames go through the same folder: a worker's ffmpeg must not go on writing after close()
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(readdirSync(shm), [], 'the trainer unlinked every file it mapped, and close() swept the rest');
  const viaIpc = await run('');
  assert.is(viaIpc.st.shmBatches, 0);
  assert.ok(viaFile.st.shmBatches >= 3, `${viaFile.st.shmBatches} batches came through files`);
  for (let k = 0; k < 3; k++) {
    assert.equal(viaFile.batches[k].shape, viaIpc.batches[k].shape);
    assert.equal(Array.from(viaFile.batches[k].labels), Array.from(viaIpc.batches[k].labels));
    assert.ok(Buffer.from(viaFile.batches[k].clips.buffer, viaFile.batches[k].clips.byteOffset, viaFile.batches[k].clips.byteLength)
      .equals(Buffer.from(viaIpc.batches[k].clips.buffer, viaIpc.batches[k].clips.byteOffset, viaIpc.batches[k].clips.byteLength)), `batch ${k}: same bytes`);
  }
});

test('a data worker told to stop (SIGTERM, as close() does) stops its ffmpeg and removes the frames it was writing', async () => {
  const folder = join(dir, 'shm-stop');
  mkdirSync(folder);
  const video = join(dir, 'long.mp4');
  await encodeFrames(indexFrames(300, 320, 240), video, { width: 320, height: 240, codec: 'h264', gop: 8 });
  const spec: VideoDatasetSpec = {
    paths: [video], labels: new Int32Array(1), seed: 1, cropSize: 32, transform: { kind: 'train', scale: [1, 1], ratio: [1, 1], flip: false },
    sampling: { framesPerClip: 16, frameStep: 4, numClips: 8, clipDuration: null, randomClipSampling: true, allowClipOverlap: true },
    filterShortVideos: false, filterLongVideos: 1e9, minFileBytes: 100, decodeShortSide: null, wholeDecodeMaxBytes: 1e9,
    videosPerProcess: 1, procsPerWorker: 1, seek: true, maxAttemptsPerSample: 1,
  };
  const worker = fork(fileURLToPath(new URL('../../lib/data/worker.js', import.meta.url)), [], {
    env: { ...process.env, VJEPA_SHM_DIR: folder },
    serialization: 'advanced',
    stdio: 'ignore',
  });
  const exited = new Promise((r) => worker.once('exit', (code, signal) => r(signal ?? code)));
  try {
    worker.send({ init: { kind: 'video', spec }, shm: null });
    worker.send({ batchIndex: 0, indices: new Int32Array([0]) });
    // the first-sight whole decode (300 frames of 320x240 into a file) is under way
    const t0 = Date.now();
    while (readdirSync(folder).length === 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 5));
    assert.ok(readdirSync(folder).length > 0, 'no frame file appeared');
  } finally {
    worker.kill('SIGTERM');
  }
  assert.is(await exited, 143);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(readdirSync(folder), []);
});

test('a data worker keeps at most KEEP_META videos\' counts, the latest, however many its jobs bring', async () => {
  const N = 300_000;
  const real = good[0];
  const { size, mtimeMs } = statSync(real.path);
  const spec: VideoDatasetSpec = {
    paths: Array.from({ length: N }, (_, i) => (i === N - 1 ? real.path : join(dir, `absent-${i}.mp4`))), labels: new Int32Array(N), seed: 1, cropSize: S,
    transform: { kind: 'train', scale: [1, 1], ratio: [1, 1], flip: false },
    sampling: { framesPerClip: 8, frameStep: 4, numClips: 1, clipDuration: null, randomClipSampling: true, allowClipOverlap: false },
    // without a known count every video would be counted first
    filterShortVideos: false, filterLongVideos: 1e9, minFileBytes: 100, decodeShortSide: null, wholeDecodeMaxBytes: 0,
    videosPerProcess: 1, procsPerWorker: 1, seek: true, maxAttemptsPerSample: 1,
  };
  const builder = new VideoBatchBuilder(spec);
  // as the trainer sends them: each job's videos, 256 at a time, over a whole pass
  for (let i = 0; i < N; i += 256) builder.learnMeta(Array.from({ length: Math.min(256, N - i) }, (_, k) => [i + k, { frameCount: real.frames, fps: 25, size, mtimeMs }]));
  assert.is(KEEP_META, 8192);
  assert.is(builder.knownVideos, 8192);
  const b = await builder.build(0, [N - 1]);
  assert.equal([b.decoded, b.counted, b.failures.length], [1, 0, 0]);
});

test('a loader started from `node --input-type=module -e`: its workers run the worker script, not the inline program', () => {
  const loaderJs = pathToFileURL(fileURLToPath(new URL('../../lib/data/loader.js', import.meta.url))).href;
  const code = `import { VideoLoader } from '${loaderJs}';
    console.log('program started');
    const l = new VideoLoader(${JSON.stringify({ ...base({}), numWorkers: 2 })});
    for await (const b of l) { console.log('batch ' + b.shape.join('x')); break; }
    await l.close();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  // before: each worker ran this program again (and started its own loader) instead of worker.js
  assert.is(r.stdout.match(/program started/g)?.length, 1, r.stdout);
  assert.match(r.stdout, /^batch 1x4x3x8x32x32$/m);
  assert.equal(scriptExecArgv(['--input-type=module', '-e', 'x()', '--max-old-space-size=64', '-p', 'y', '--eval=z', '--enable-source-maps']), ['--max-old-space-size=64', '--enable-source-maps']);
});

test('teardown', () => cleanup());

test.run();
