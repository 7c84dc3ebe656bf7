// The store of frame counts and keyframes between runs (lib/data/meta-cache.ts): a second loader
// counts nothing and gives the same batches, an edited video is counted again, torn and corrupt
// lines cost only their own videos, and `vjepa-data count` fills the store ahead of training.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VideoLoader, type VideoBatch, type VideoLoaderOptions } from '../../lib/data/loader.js';
import { metaFiles, readMetaFile, VideoMetaCache, type VideoMeta } from '../../lib/data/meta-cache.js';
import { PAST_KEY } from '../../lib/data/seek.js';
import { makeIndexVideo, readIndexClip, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir('meta-cache');
const S = 32;
const lengths = [90, 120, 75];
const videos = lengths.map((_, i) => join(dir, `v${i}.mp4`));
const csv = join(dir, 'train.csv');
const sidecar = `${csv}.vjepa-meta`;
const BIN = fileURLToPath(new URL('../../bin/vjepa-data.js', import.meta.url));

test('setup: index videos (GOP 8) and their CSV', async () => {
  await Promise.all(lengths.map((n, i) => makeIndexVideo(videos[i], n, S, S, 'h264')));
  writeFileSync(csv, videos.map((p, i) => `${p} ${i}`).join('\n') + '\n');
});

const opts = (o: Partial<VideoLoaderOptions> = {}): VideoLoaderOptions => ({
  csvPaths: [csv],
  batchSize: 3,
  framesPerClip: 8,
  frameStep: 4,
  numClips: 1,
  cropSize: S,
  training: true,
  transform: { scale: [1, 1], ratio: [1, 1], flip: false },
  seed: 5,
  numWorkers: 1,
  minFileBytes: 100,
  // every video counts as long: counted by a decode pass, keyframes included
  wholeDecodeMaxBytes: 0,
  passes: 2,
  // one batch at a time: batches in flight together would each count the videos they share
  prefetch: 1,
  log: () => undefined,
  ...o,
});

async function all(o: Partial<VideoLoaderOptions> = {}): Promise<{ batches: VideoBatch[]; stats: ReturnType<VideoLoader['stats']>; logs: string[] }> {
  const logs: string[] = [];
  const loader = new VideoLoader(opts({ log: (m) => logs.push(m), ...o }));
  const batches: VideoBatch[] = [];
  for await (const b of loader) batches.push(b);
  const stats = loader.stats();
  await loader.close();
  return { batches, stats, logs };
}

/** A one-line CSV of its own in a fresh folder, for tests of the store alone. */
function lone(name: string): { csv: string; done: () => void } {
  const { dir: d, cleanup } = tempDir(`meta-${name}`);
  const csv = join(d, `${name}.csv`);
  writeFileSync(csv, `${videos[0]} 0\n`);
  return { csv, done: cleanup };
}

/** The frame index each slot's frames show (the videos draw their own index). */
function shown(b: VideoBatch): number[][] {
  const [, B, , T] = b.shape;
  return Array.from({ length: B }, (_, j) => Array.from({ length: T }, (_, t) => readIndexClip(b.clips, j * 3 * T * S * S, T, S, t)));
}

test('no store: metaCache false reads and writes nothing', async () => {
  const r = await all({ metaCache: false });
  assert.is(r.stats.counted, 3);
  assert.is(r.stats.metaCached, 0);
  assert.not.ok(existsSync(sidecar));
});

test('a second loader counts nothing: counts and keyframes come from the sidecar, and the batches are the same', async () => {
  const first = await all();
  assert.is(first.stats.counted, 3);
  assert.ok(existsSync(sidecar));
  const stored = readMetaFile(sidecar);
  assert.equal(stored.bad, []);
  assert.equal(
    videos.map((p) => stored.entries.get(p)!.frameCount),
    lengths,
  );
  // GOP 8: keys at 0, 8, 16, ...
  assert.equal(Array.from(stored.entries.get(videos[0])!.keyframes!.filter((_, i) => i % 4 === 0)), Array.from({ length: 12 }, (_, i) => 8 * i));

  const second = await all();
  assert.is(second.stats.counted, 0);
  assert.is(second.stats.metaCached, 3);
  assert.ok(second.stats.seeked > 0, 'the stored keyframes are used to seek');
  // the store's line is printed by the first loader on an index set only (the probe builds a val loader every epoch)
  assert.equal(second.logs, []);
  assert.is(second.batches.length, first.batches.length);
  for (let k = 0; k < first.batches.length; k++) {
    assert.equal(second.batches[k].sampleIndices, first.batches[k].sampleIndices);
    assert.ok(Buffer.from(second.batches[k].clips.buffer).equals(Buffer.from(first.batches[k].clips.buffer)), `batch ${k} bytes`);
  }
});

test('an edited video is counted again: the entry stamped with its old size and mtime is dropped', async () => {
  // v1 becomes 40 frames long: a stale count of 120 would ask for frames past its end
  await makeIndexVideo(videos[1], 40, S, S, 'h264');
  const r = await all({ passes: 1 });
  assert.is(r.stats.metaCached, 3, 'all three entries are read');
  assert.is(r.stats.counted, 1, 'only the edited one is counted');
  assert.is(r.stats.failed, 0);
  const slot = Array.from(r.batches[0].sampleIndices).indexOf(1);
  const frames = shown(r.batches[0])[slot];
  assert.ok(frames.every((f) => f >= 0 && f < 40), `frames of the new v1: ${frames}`);
  assert.is(readMetaFile(sidecar).entries.get(videos[1])!.frameCount, 40, 'the new count is stored');
});

test('a torn last line and a corrupt line cost only their own videos, and are named', async () => {
  const text = readFileSync(sidecar, 'utf8').split('\n');
  // line 2 becomes garbage; a kill mid-append leaves a line without its newline
  text[1] = '{"path": 12';
  writeFileSync(sidecar, text.join('\n'));
  appendFileSync(sidecar, '{"path":"/x.mp4","si');
  const logs: string[] = [];
  const c = VideoMetaCache.open(csv, (m) => logs.push(m));
  assert.equal(logs, [`data: ${sidecar}: ignored 2 unreadable line(s) (first: line 2); those videos will be counted again`]);
  const before = c.entries.size;
  c.add([['/y.mp4', { frameCount: 7, fps: 30, size: 2000, mtimeMs: 1.5 }]]);
  const after = readMetaFile(sidecar);
  assert.is(after.entries.size, before + 1);
  assert.equal(after.entries.get('/y.mp4'), { frameCount: 7, fps: 30, keyframes: undefined, size: 2000, mtimeMs: 1.5 });
  assert.is(after.bad.length, 2, 'the torn line stays torn, the append starts on a line of its own');
  assert.not.ok(after.torn);
});

test('not a store: a foreign file under the name is read-only to us, with one message', () => {
  const { csv: c2, done } = lone('foreign');
  writeFileSync(`${c2}.vjepa-meta`, 'path,frames\n');
  const logs: string[] = [];
  const c = VideoMetaCache.open(c2, (m) => logs.push(m));
  assert.is(c.file, null);
  assert.equal(logs, [`data: ${c2}.vjepa-meta:1: not a vjepa video-meta file (expected {"format":"vjepa-video-meta","version":1}); not using it`]);
  c.add([[videos[0], { frameCount: 1, fps: 1, size: 1, mtimeMs: 1 }]]);
  assert.is(readFileSync(`${c2}.vjepa-meta`, 'utf8'), 'path,frames\n');
  done();
});

test('a read-only dataset folder: the store goes to VJEPA_CACHE_DIR, and both places are read', () => {
  const { dir: cache, cleanup: done } = tempDir('meta-cachedir');
  const saved = process.env.VJEPA_CACHE_DIR;
  process.env.VJEPA_CACHE_DIR = cache;
  try {
    const readOnly = (p: string) => p.startsWith(cache);
    const files = metaFiles(csv, readOnly);
    assert.ok(files.write!.startsWith(join(cache, 'video-meta', 'train.csv-')), files.write!);
    assert.equal(files.read, [sidecar]);
    const c = VideoMetaCache.open(csv, () => undefined, readOnly);
    const fromSidecar = c.entries.size;
    const m: VideoMeta = { frameCount: 3, fps: 24, keyframes: new Float64Array([0, 0, 0, 0.1]), size: 5000, mtimeMs: 2 };
    c.add([['/z.mp4', m]]);
    assert.not.ok(readMetaFile(sidecar).entries.has('/z.mp4'));
    const again = VideoMetaCache.open(csv, () => undefined, readOnly);
    assert.is(again.entries.size, fromSidecar + 1);
    assert.equal(again.entries.get('/z.mp4'), m);
    assert.equal(again.sources, [sidecar, files.write]);
  } finally {
    if (saved === undefined) delete process.env.VJEPA_CACHE_DIR;
    else process.env.VJEPA_CACHE_DIR = saved;
    done();
  }
});

test('superseded lines are compacted away when they are most of the file', () => {
  const { csv: c2, done } = lone('compact');
  const c = VideoMetaCache.open(c2, () => undefined);
  for (let i = 0; i < 100; i++) c.add([['/a.mp4', { frameCount: i, fps: 25, size: 4000, mtimeMs: 3 }]]);
  assert.is(readMetaFile(`${c2}.vjepa-meta`).lines, 100);
  const reopened = VideoMetaCache.open(c2, () => undefined);
  assert.is(reopened.entries.get('/a.mp4')!.frameCount, 99);
  const after = readMetaFile(`${c2}.vjepa-meta`);
  assert.is(after.lines, 1);
  assert.is(after.entries.get('/a.mp4')!.frameCount, 99);
  done();
});

test('compacting a store longer than V8\'s longest string (512 MiB) writes it whole', () => {
  const { csv: c2, done } = lone('huge');
  const c = VideoMetaCache.open(c2, () => undefined);
  // 70k entries of 8 kB (long paths keep it fast): as much text as 260k long videos' 64 keyframes
  const dirName = `/${'d'.repeat(8000)}`;
  const N = 70_000;
  for (let v = 0; v < N; v++) c.entries.set(`${dirName}/${v}.mp4`, { frameCount: v, fps: 25, size: 5000 + v, mtimeMs: 2 });
  c.compact();
  const file = `${c2}.vjepa-meta`;
  const size = statSync(file).size;
  assert.ok(size > 2 ** 29, `${size} bytes`);
  // the last line is the last entry, and every line is there
  const fd = openSync(file, 'r');
  const tail = Buffer.alloc(9000);
  readSync(fd, tail, 0, tail.length, size - tail.length);
  closeSync(fd);
  const last = JSON.parse(tail.toString('utf8').split('\n').at(-2)!);
  assert.equal([last.path, last.frames, last.size], [`${dirName}/${N - 1}.mp4`, N - 1, 5000 + N - 1]);
  const line = (v: number) => JSON.stringify({ path: `${dirName}/${v}.mp4`, size: 5000 + v, mtimeMs: 2, frames: v, fps: 25, keys: null }).length + 1;
  let expected = '{"format":"vjepa-video-meta","version":1}\n'.length;
  for (let v = 0; v < N; v++) expected += line(v);
  assert.is(size, expected);
  done();
});

test('a store larger than one read (4 MiB) comes back whole; a header torn by a kill is written again', () => {
  const { csv: c2, done } = lone('big');
  const c = VideoMetaCache.open(c2, () => undefined);
  const items: [string, VideoMeta][] = Array.from({ length: 3000 }, (_, v) => {
    const keys = new Float64Array(64 * 4);
    for (let k = 0; k < 64; k++) keys.set([8 * k, 512 * k + v, (512 * k + v) / 12800, k % 3 === 0 ? 0.02 + v / 1e5 : PAST_KEY], 4 * k);
    return [`/videos/clip-${v}.mp4`, { frameCount: 600 + v, fps: 29.97, keyframes: keys, size: 1e6 + v, mtimeMs: 1.7e12 + v / 7 }];
  });
  c.add(items);
  const file = `${c2}.vjepa-meta`;
  assert.ok(statSync(file).size > 4 << 20, `${statSync(file).size} bytes`);
  const r = readMetaFile(file);
  assert.equal(r.bad, []);
  assert.is(r.entries.size, 3000);
  for (const [p, m] of items) assert.equal(r.entries.get(p), m, p);

  writeFileSync(file, '{"format":"vjepa-vi');
  const logs: string[] = [];
  const again = VideoMetaCache.open(c2, (m) => logs.push(m));
  assert.equal(logs, []);
  again.add([items[0]]);
  const after = readMetaFile(file);
  assert.equal([after.bad, after.lines, after.entries.get(items[0][0])], [[], 1, items[0][1]]);
  done();
});

test('two processes appending to one store at once (two runs, or a count beside a run) interleave whole lines only', async () => {
  const { csv: c2, done } = lone('concurrent');
  VideoMetaCache.open(c2, () => undefined).add([['/first.mp4', { frameCount: 1, fps: 1, size: 1, mtimeMs: 1 }]]);
  const mod = new URL('../../lib/data/meta-cache.js', import.meta.url).href;
  const writer = (w: number) =>
    new Promise<number | null>((res) => {
      const code = `const { VideoMetaCache } = await import(${JSON.stringify(mod)});
        const c = VideoMetaCache.open(${JSON.stringify(c2)}, (m) => console.error(m));
        const keys = new Float64Array(64 * 4).map((_, i) => i * 1.5);
        for (let b = 0; b < 100; b++) c.add(Array.from({ length: 10 }, (_, k) => ['/w${w}/' + (b * 10 + k) + '.mp4', { frameCount: b, fps: 30, keyframes: keys, size: k, mtimeMs: ${w} }]));`;
      const p = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'inherit' });
      p.on('exit', (c) => res(c));
    });
  assert.equal(await Promise.all([writer(1), writer(2)]), [0, 0]);
  const r = readMetaFile(`${c2}.vjepa-meta`);
  assert.equal(r.bad, []);
  assert.is(r.entries.size, 2001);
  assert.is(r.entries.get('/w2/999.mp4')!.frameCount, 99);
  done();
});

test('vjepa-data count fills the store ahead of training; a loader then counts nothing', async () => {
  const { dir: d, cleanup: done } = tempDir('meta-count');
  const c2 = join(d, 'all.csv');
  // a missing video is reported and makes the exit code 1; the others are stored
  writeFileSync(c2, [...videos.map((p, i) => `${p} ${i}`), `${join(d, 'gone.mp4')} 3`].join('\n') + '\n');
  const r = spawnSync(process.execPath, [BIN, 'count', '--csv', c2, '--jobs', '2'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, `cannot count ${join(d, 'gone.mp4')}: file not found`);
  assert.match(r.stdout, `${c2}: stored in ${c2}.vjepa-meta`);
  assert.match(r.stdout, /4 videos: 3 counted, 0 already known, 1 failed/);
  const stored = readMetaFile(`${c2}.vjepa-meta`);
  assert.equal(videos.map((p) => stored.entries.get(p)!.frameCount), [90, 40, 75]);
  // again, named by a probe config: its train and val CSVs (the same file here, counted once)
  const yaml = join(d, 'probe.yaml');
  writeFileSync(yaml, `data:\n  dataset_train: [${c2}]\n  dataset_val: ${c2}\n`);
  const again = spawnSync(process.execPath, [BIN, 'count', '--config', yaml], { encoding: 'utf8', timeout: 60_000 });
  assert.match(again.stdout, /^4 videos: 0 counted, 3 already known, 1 failed/m);
  assert.is(again.stdout.split('\n').filter((l) => l.startsWith(`${c2}: stored in`)).length, 1);
  const l = await all({ csvPaths: [c2], passes: 1, batchSize: 4, minFileBytes: 100, dropLast: false });
  assert.is(l.stats.counted, 0);
  assert.is(l.stats.metaCached, 3);
  assert.equal(l.logs, [
    `data: 1 of 4 listed videos do not exist (they will be replaced by other samples when loaded):\n  ${c2}:4: "${join(d, 'gone.mp4')}"`,
    `data: frame counts of 3 of 4 videos from ${c2}.vjepa-meta`,
    `data: cannot load ${join(d, 'gone.mp4')} (file not found); replaced by another sample`,
  ]);
  done();
});

test('teardown', () => cleanup());

test.run();
