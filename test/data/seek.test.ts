import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { decodeVideo, decodeVideos, ffmpegPath, probeVideoFull, runFfmpeg, seekOrder } from '../../lib/data/ffmpeg.js';
import { encodeFrames } from '../../lib/data/encode.js';
import { chooseSeek as chooseSeekPacked, packKeyFrames, parsePrinted, type KeyFrame } from '../../lib/data/seek.js';

const chooseSeek = (keys: KeyFrame[] | undefined, first: number) => chooseSeekPacked(keys && packKeyFrames(keys), first);
import { indexFrames, makeIndexVideo, readIndexRgb, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir('seek');
const N = 120;
const W = 64;
const H = 48;

// [name, file, codec, extra encoder args, whether its seeks land on the keyframe]
// Encoders add keyframes at scene cuts, and every frame here is one: the oracle below says where they went.
const videos: [string, string, Parameters<typeof makeIndexVideo>[4], string[], boolean][] = [
  ['H.264 mp4, GOP 8, no B-frames (vjepa-data prepare)', 'gop8.mp4', 'h264', ['-sc_threshold', '0'], true],
  ['H.264 mp4, GOP 25, B-frames', 'bframes.mp4', 'h264', ['-bf', '3', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0'], true],
  ['H.264 mkv, GOP 10, B-frames', 'b.mkv', 'h264', ['-bf', '2', '-g', '10', '-keyint_min', '10'], true],
  ['VP9 webm, GOP 12', 'd.webm', 'vp9', ['-g', '12', '-keyint_min', '12'], true],
  ['MPEG-4 avi, GOP 12', 'e.avi', 'mpeg4', ['-g', '12'], true],
  ['MPEG-1 program stream, GOP 12', 'f.mpg', 'mpeg1', ['-g', '12'], true],
  ['H.264 mkv, variable frame rate, GOP 8', 'vfr.mkv', 'h264', ['-vf', "setpts='N*N/(25*TB)'", '-vsync', '0'], true],
  // ffmpeg's seek in a transport stream lands on whatever frame its search finds: every seek is
  // caught by the check and decoded again from the start
  ['H.264 mpegts (start time 1.4 s), GOP 16', 'c.ts', 'h264', ['-g', '16', '-keyint_min', '16', '-f', 'mpegts'], false],
];

/**
 * The keyframes' indices by another route: decode only keyframes and read the index each frame
 * shows. (ffmpeg's VP9 decoder ignores -skip_frame: there, the GOP the encoder was given.)
 */
async function keyframeOracle(path: string): Promise<number[]> {
  if (path.endsWith('.webm')) return range(0, N, 12);
  const r = await runFfmpeg(['-v', 'error', '-skip_frame', 'nokey', '-i', path, '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:3'], 1);
  if (r.code !== 0) throw new Error(`${ffmpegPath()}: ${r.stderr}`);
  const data = new Uint8Array(r.outputs[0]);
  return Array.from({ length: data.length / (W * H * 3) }, (_, i) => readIndexRgb(data, i, W, H));
}

function range(a: number, b: number, step: number): number[] {
  const out: number[] = [];
  for (let i = a; i < b; i += step) out.push(i);
  return out;
}

const clip = (start: number) => Array.from({ length: 16 }, (_, i) => Math.min(N - 1, start + Math.floor((i * 31) / 15)));
const indexOf = (d: { data: Uint8Array; width: number; height: number }, i: number) => readIndexRgb(d.data, i, d.width, d.height);
const keysOf = new Map<string, KeyFrame[]>();

test('setup: index-encoded videos with keyframes mid-stream', async () => {
  await Promise.all(videos.map(([, f, codec, extra]) => encodeFrames(indexFrames(N, W, H), join(dir, f), { width: W, height: H, codec: codec ?? 'h264', gop: 8, extraArgs: extra })));
  await encodeFrames(indexFrames(N, W, H), join(dir, 'raw.h264'), { width: W, height: H, codec: 'h264', gop: 8, extraArgs: ['-f', 'h264'] });
});

for (const [name, file, , , seekable] of videos) {
  test(`keyframes are counted with the frames: ${name}`, async () => {
    const info = await probeVideoFull(join(dir, file));
    assert.is(info.frameCount, N);
    const keys = info.keyframes!;
    assert.equal(keys.map((k) => k.frame), await keyframeOracle(join(dir, file)));
    assert.ok(keys.length >= N / 25, `${keys.length} keyframes`);
    for (let i = 1; i < keys.length; i++) assert.ok(keys[i].pts > keys[i - 1].pts && keys[i].time > keys[i - 1].time);
    keysOf.set(file, keys);
  });

  test(`a seeked clip has the frames of a decode from the start: ${name}`, async () => {
    const path = join(dir, file);
    const keys = keysOf.get(file)!;
    let seeked = 0;
    let rejected = 0;
    for (const start of [1, 9, 25, 26, 37, 50, 75, 88, N - 32]) {
      const idx = clip(start);
      const seek = chooseSeek(keys, start);
      if (seek) seeked++;
      const d = await decodeVideo({ path, indices: idx, seek });
      assert.equal(Array.from({ length: idx.length }, (_, i) => indexOf(d, i)), idx, `start ${start}, key ${seek?.key.frame}`);
      if (seekable) assert.is(d.seekRejected ?? false, false, `start ${start}: the seek to ${seek?.key.frame} was rejected`);
      if (d.seekRejected) rejected++;
      if (start === 37) {
        const plain = await decodeVideo({ path, indices: idx });
        assert.ok(Buffer.from(plain.data).equals(Buffer.from(d.data)), 'seeked and plain decodes differ in their bytes');
      }
    }
    assert.ok(seeked >= 6, `only ${seeked} of 9 clips could seek`);
    if (!seekable) assert.is(rejected, seeked);
  });
}

test('a seek that lands on the wrong frame is caught and decoded again from the start', async () => {
  const path = join(dir, 'gop8.mp4');
  const keys = keysOf.get('gop8.mp4')!;
  const idx = clip(50);
  // frame 48 is a keyframe, but not at this timestamp (so the first frame kept is frame 49)
  const liar: KeyFrame = { ...keys[6], pts: keys[6].pts + 1 };
  const d = await decodeVideo({ path, indices: idx, seek: { key: liar, target: liar.time + 0.01 } });
  assert.is(d.seekRejected, true);
  assert.equal(Array.from({ length: idx.length }, (_, i) => indexOf(d, i)), idx);
  // and one aimed past its keyframe (the next one is where decoding starts)
  const late = await decodeVideo({ path, indices: idx, seek: { key: keys[6], target: keys[7].time + 0.01 } });
  assert.is(late.seekRejected, true);
  assert.equal(Array.from({ length: idx.length }, (_, i) => indexOf(late, i)), idx);
  // a stream without timestamps has nothing to seek with: frames stay right
  const raw = await probeVideoFull(join(dir, 'raw.h264'));
  assert.is(raw.frameCount, N);
  const r = await decodeVideo({ path: join(dir, 'raw.h264'), indices: idx, seek: chooseSeek(raw.keyframes, 50) ?? { key: keys[6], target: keys[6].time + 0.01 } });
  assert.equal(Array.from({ length: idx.length }, (_, i) => indexOf(r, i)), idx);
});

test('one process, several inputs: each seek is checked on its own', async () => {
  const k8 = keysOf.get('gop8.mp4')!;
  const kb = keysOf.get('bframes.mp4')!;
  const reqs = [
    { path: join(dir, 'gop8.mp4'), indices: clip(70), seek: chooseSeek(k8, 70) },
    { path: join(dir, 'bframes.mp4'), indices: clip(3) },
    { path: join(dir, 'bframes.mp4'), indices: clip(60), seek: chooseSeek(kb, 60) },
    { path: join(dir, 'gop8.mp4'), indices: clip(44), seek: { key: { ...k8[5], pts: k8[5].pts + 1 }, target: k8[5].time + 0.01 } },
  ];
  const out = await decodeVideos(reqs);
  out.forEach((d, i) => {
    if (d instanceof Error) throw d;
    assert.equal(Array.from({ length: 16 }, (_, t) => indexOf(d, t)), reqs[i].indices, `request ${i}`);
  });
  assert.equal(out.map((d) => (d as { seekRejected?: boolean }).seekRejected ?? false), [false, false, false, true]);
});

test('seeks in one process run in the order of their targets: none is dropped behind another', async () => {
  // given in descending order; ffmpeg would drop the earlier ones' frames (found on 2-minute videos)
  const k8 = keysOf.get('gop8.mp4')!;
  const starts = [100, 70, 40, 10];
  const reqs = starts.map((st) => ({ path: join(dir, 'gop8.mp4'), indices: clip(st), seek: chooseSeek(k8, st) }));
  const out = await decodeVideos(reqs);
  out.forEach((d, i) => {
    if (d instanceof Error) throw d;
    assert.equal(Array.from({ length: 16 }, (_, t) => indexOf(d, t)), reqs[i].indices, `request ${i}`);
    assert.is(d.seekRejected ?? false, false, `request ${i} fell back`);
  });
  // the wasted decoding shows only in time, so check the order itself
  const mixed = [reqs[0], { path: 'a.mp4', indices: [1] }, reqs[2], { path: 'b.mp4' }, reqs[3], reqs[1]];
  assert.equal(seekOrder(mixed), { plain: [1, 3], seeked: [4, 2, 5, 0] });
});

test('inputs that do not seek keep their own clocks: a transport stream (starts at 1.4 s) before an mp4', async () => {
  const out = await decodeVideos([{ path: join(dir, 'c.ts') }, { path: join(dir, 'gop8.mp4') }, { path: join(dir, 'c.ts'), indices: [0, 1, 119] }, { path: join(dir, 'gop8.mp4'), indices: [0, 1, 119] }]);
  out.forEach((d, i) => {
    if (d instanceof Error) throw d;
    if (i < 2) {
      assert.is(d.info.frameCount, N, `request ${i}`);
      assert.equal([0, 1, N - 1].map((f) => indexOf(d, f)), [0, 1, N - 1]);
    } else {
      assert.equal([0, 1, 2].map((t) => indexOf(d, t)), [0, 1, 119]);
    }
  });
});

test('packKeyFrames thins to evenly spread keys, each still aimed short of its real next key', async () => {
  const gop2: KeyFrame[] = Array.from({ length: 1000 }, (_, i) => ({ frame: 2 * i, pts: 1024 * i, time: (2 * i) / 30 }));
  const packed = packKeyFrames(gop2, 64);
  assert.is(packed.length, 64 * 4);
  const frames = Array.from({ length: 64 }, (_, j) => packed[4 * j]);
  assert.is(frames[0], 0);
  assert.is(frames[63], 1998);
  const steps = frames.slice(1).map((f, j) => f - frames[j]);
  assert.ok(Math.min(...steps) >= 30 && Math.max(...steps) <= 34, `steps ${Math.min(...steps)}..${Math.max(...steps)}`);
  // aimed half-way to the real next key (1/30 s), not to the next kept one (16 keys on)
  for (let j = 0; j < 63; j++) assert.ok(Math.abs(packed[4 * j + 3] - 1 / 30) < 1e-12);
  const s = chooseSeekPacked(packed, 1000)!;
  assert.is(s.key.frame, frames.filter((f) => f <= 1000).pop());
  assert.ok(Math.abs(s.target - (s.key.time + 1 / 30)) < 1e-12);
  // and on a real video: 4 of gop8.mp4's 15 keys
  const k8 = keysOf.get('gop8.mp4')!;
  const thin = packKeyFrames(k8, 4);
  const seek = chooseSeekPacked(thin, 100)!;
  assert.is(seek.key.frame, 72);
  const d = await decodeVideo({ path: join(dir, 'gop8.mp4'), indices: clip(100), seek });
  assert.equal(Array.from({ length: 16 }, (_, t) => indexOf(d, t)), clip(100));
  assert.is(d.seekRejected ?? false, false);
});

test('parsePrinted: tagged records per input; NaN timestamps and stray lines are skipped', () => {
  const err = [
    'Input #0, mov,mp4,m4a,3gp,3g2,mj2, from x.mp4:',
    '-1.000000', '0.000000', '0.000000', '0.000000',
    '-2.000000', '0.000000', '-1024.000000', '-0.066667',
    '-1.000000', '8.000000', '4096.000000', '0.320000',
    '42.000000',
    '-2.000000', '10.000000', 'nan', 'nan',
    '-1000002.000000', '-1024.000000',
    '-1.000000', '16.000000', '8192.000000', '0.640000',
    'frame=  120 fps=0.0 q=-0.0 Lsize=N/A',
  ].join('\n');
  const p = parsePrinted(err);
  assert.equal(p.keys.get(0), [{ frame: 0, pts: 0, time: 0 }, { frame: 8, pts: 4096, time: 0.32 }, { frame: 16, pts: 8192, time: 0.64 }]);
  assert.equal(p.keys.get(1), [{ frame: 0, pts: -1024, time: -0.066667 }]);
  assert.equal([...p.checks], [[1, -1024]]);
});

test('chooseSeek: the last keyframe at or before the clip; none for frame 0; short of the next key', () => {
  const keys: KeyFrame[] = [0, 4, 8, 16, 250].map((f) => ({ frame: f, pts: f * 512, time: f / 30 }));
  assert.is(chooseSeek(keys, 3), null);
  assert.is(chooseSeek(undefined, 100), null);
  assert.is(chooseSeek([], 100), null);
  assert.is(chooseSeek(keys, 4)!.key.frame, 4);
  assert.is(chooseSeek(keys, 8)!.key.frame, 8);
  assert.is(chooseSeek(keys, 15)!.key.frame, 8);
  assert.is(chooseSeek(keys, 249)!.key.frame, 16);
  assert.is(chooseSeek(keys, 10_000)!.key.frame, 250);
  // 4 frames to the next key: half of that gap, short of ffmpeg's 3/23 s B-frame allowance
  assert.ok(Math.abs(chooseSeek(keys, 7)!.target - (4 / 30 + 2 / 30)) < 1e-9);
  assert.ok(Math.abs(chooseSeek(keys, 9)!.target - (8 / 30 + 3 / 23 + 0.001)) < 1e-9);
  assert.ok(Math.abs(chooseSeek(keys, 300)!.target - (250 / 30 + 3 / 23 + 0.001)) < 1e-9);
  assert.is(chooseSeek([{ frame: 0, pts: 0, time: 0 }, { frame: 5, pts: 5, time: 1 }], 2), null);
});

test.after(cleanup);
test.run();
