import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countFrames, decodeVideo, decodeVideos, frameFiles, parseFfmpegSections, probeVideo, probeVideoFull, runFfmpeg } from '../../lib/data/ffmpeg.js';
import { chooseSeek, packKeyFrames } from '../../lib/data/seek.js';
import { encodeFrames } from '../../lib/data/encode.js';
import { indexFrames, makeIndexVideo, readIndexRgb, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir('decode');

const cases: [string, string, Parameters<typeof makeIndexVideo>[4], number, number][] = [
  ['H.264 mp4 (odd size 97x61, lossless)', 'a.mp4', 'h264-lossless', 97, 61],
  ['H.264 mp4 (lossy, yuv420p)', 'b.mp4', 'h264', 64, 48],
  ['VP9 webm (odd size)', 'c.webm', 'vp9', 97, 61],
  ['VP8 webm', 'd.webm', 'vp8', 64, 48],
  ['MPEG-4 avi (odd size)', 'e.avi', 'mpeg4', 97, 61],
  ['H.264 mkv', 'f.mkv', 'h264', 64, 48],
  ['MPEG-1', 'g.mpg', 'mpeg1', 64, 48],
];

test('setup: index-encoded videos in every container/codec', async () => {
  await Promise.all(cases.map(([, f, codec, w, h]) => makeIndexVideo(join(dir, f), 40, w, h, codec)));
});

for (const [name, file, , w, h] of cases) {
  test(`decode exact frame indices: ${name}`, async () => {
    const want = [0, 5, 5, 39, 17, 3, 3, 22];
    const d = await decodeVideo({ path: join(dir, file), indices: want });
    assert.is(d.width, w);
    assert.is(d.height, h);
    assert.is(d.count, want.length);
    assert.equal(want.map((_, i) => readIndexRgb(d.data, i, w, h)), want);
  });
}

test('whole-video decode gives the exact frame count; probe reads size, fps, duration', async () => {
  const d = await decodeVideo({ path: join(dir, 'a.mp4') });
  assert.is(d.count, 40);
  assert.is(d.info.frameCount, 40);
  assert.equal(Array.from({ length: 40 }, (_, i) => readIndexRgb(d.data, i, 97, 61)), Array.from({ length: 40 }, (_, i) => i));
  const p = await probeVideo(join(dir, 'c.webm'));
  assert.is(p.codec, 'vp9');
  assert.is(p.width, 97);
  assert.is(p.height, 61);
  assert.is(p.fps, 25);
  assert.ok(Math.abs(p.duration - 1.6) < 0.05, `duration ${p.duration}`);
  assert.is(await countFrames(join(dir, 'e.avi')), 40);
  assert.is((await probeVideoFull(join(dir, 'g.mpg'))).frameCount, 40);
});

test('scaled on the fly: explicit size and short side', async () => {
  const a = await decodeVideo({ path: join(dir, 'b.mp4'), indices: [7], width: 32, height: 24 });
  assert.equal([a.width, a.height], [32, 24]);
  assert.is(readIndexRgb(a.data, 0, 32, 24), 7);
  const b = await decodeVideo({ path: join(dir, 'b.mp4'), indices: [9], shortSide: 24 });
  assert.equal([b.width, b.height], [32, 24]);
  assert.is(readIndexRgb(b.data, 0, 32, 24), 9);
});

test('rotation metadata (phone videos) is applied, as decord does: frames come upright, sizes swapped, with or without a seek', async () => {
  const rot = join(dir, 'rot.mp4');
  const r = await runFfmpeg(['-v', 'error', '-y', '-i', join(dir, 'b.mp4'), '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rot]);
  assert.is(r.code, 0, r.stderr);
  const idx = [0, 17, 39];
  const plain = await decodeVideo({ path: join(dir, 'b.mp4'), indices: idx });
  const info = await probeVideoFull(rot);
  const seek = chooseSeek(packKeyFrames(info.keyframes!), 17);
  assert.ok(seek, 'the GOP-8 copy has a keyframe to seek to');
  for (const d of [await decodeVideo({ path: rot, indices: idx }), await decodeVideo({ path: rot, indices: [17, 39], seek })]) {
    assert.equal([d.width, d.height], [48, 64]);
    const from = d.count === 3 ? 0 : 1;
    // a 90-degree counter-clockwise turn of the plain decode, exactly
    for (let f = 0; f < d.count; f++) {
      for (let y = 0; y < 64; y++) {
        for (let x = 0; x < 48; x++) {
          for (let c = 0; c < 3; c++) {
            const want = plain.data[(((f + from) * 48 + x) * 64 + (63 - y)) * 3 + c];
            if (d.data[((f * 64 + y) * 48 + x) * 3 + c] !== want) assert.unreachable(`frame ${f} pixel (${x}, ${y}) channel ${c}`);
          }
        }
      }
    }
  }
});

test('missing timestamps (raw H.264 elementary stream) and variable frame rate', async () => {
  const raw = join(dir, 'raw.h264');
  await encodeFrames(indexFrames(30, 64, 48), raw, { width: 64, height: 48, codec: 'h264', extraArgs: ['-f', 'h264'] });
  const d = await decodeVideo({ path: raw });
  assert.is(d.count, 30);
  assert.is(readIndexRgb(d.data, 29, 64, 48), 29);
  // VFR: irregular timestamps; -vsync 0 keeps one output per coded frame
  const vfr = join(dir, 'vfr.mkv');
  await encodeFrames(indexFrames(30, 64, 48), vfr, { width: 64, height: 48, codec: 'h264', extraArgs: ['-vf', "setpts='N*N/(25*TB)'", '-vsync', '0'] });
  const v = await decodeVideo({ path: vfr, indices: [0, 10, 29] });
  assert.equal([0, 1, 2].map((i) => readIndexRgb(v.data, i, 64, 48)), [0, 10, 29]);
  assert.is((await decodeVideo({ path: vfr })).count, 30);
});

test('failures: missing, 0-byte, corrupt, too-short index request; one bad file does not sink its group', async () => {
  const empty = join(dir, 'empty.mp4');
  writeFileSync(empty, '');
  const corrupt = join(dir, 'corrupt.mp4');
  writeFileSync(corrupt, Buffer.alloc(4096, 0x5a));
  const res = await decodeVideos([
    { path: join(dir, 'nope.mp4') },
    { path: join(dir, 'b.mp4'), indices: [1, 2] },
    { path: empty },
    { path: corrupt },
    { path: join(dir, 'b.mp4'), indices: [39, 40] },
  ]);
  assert.instance(res[0], Error);
  assert.match((res[0] as Error).message, /nope\.mp4/);
  assert.not.instance(res[1], Error);
  assert.instance(res[2], Error);
  assert.instance(res[3], Error);
  assert.instance(res[4], Error);
  assert.match((res[4] as Error).message, /fewer frames/);
});

test('truncated file: decoder errors that still produce frames are not failures', async () => {
  const src = readFileSync(join(dir, 'e.avi'));
  const cut = join(dir, 'cut.avi');
  writeFileSync(cut, src.subarray(0, Math.floor(src.length * 0.6)));
  const d = await decodeVideo({ path: cut });
  assert.ok(d.count > 5 && d.count < 40, `count ${d.count}`);
  assert.is(readIndexRgb(d.data, 3, 97, 61), 3);
});

test('frames through files or pipes are the same bytes; a folder that fails a run is dropped for pipes', async () => {
  const reqs = [{ path: join(dir, 'b.mp4'), indices: [3, 9, 27] }, { path: join(dir, 'c.webm') }];
  const env = process.env.VJEPA_SHM_DIR;
  const folder = join(dir, 'frames');
  mkdirSync(folder);
  const log = console.error;
  const said: string[] = [];
  try {
    process.env.VJEPA_SHM_DIR = folder;
    const viaFiles = await decodeVideos(reqs);
    assert.equal(readdirSync(folder), [], 'files left behind');
    process.env.VJEPA_SHM_DIR = '';
    const viaPipes = await decodeVideos(reqs);
    for (let i = 0; i < reqs.length; i++) {
      const a = viaFiles[i];
      const b = viaPipes[i];
      if (a instanceof Error || b instanceof Error) throw a instanceof Error ? a : b;
      assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)), `request ${i}`);
    }
    // the next output names are taken by folders: ffmpeg cannot write, and pipes take over
    process.env.VJEPA_SHM_DIR = folder;
    for (let i = 0; i < 4; i++) mkdirSync(join(folder, `vjepa-batch-${process.pid}-${process.pid}-${frameFiles.next + i}`));
    console.error = (m: string) => said.push(m);
    const fallback = await decodeVideos(reqs);
    fallback.forEach((d, i) => {
      if (d instanceof Error) throw d;
      assert.ok(Buffer.from(d.data).equals(Buffer.from((viaPipes[i] as { data: Uint8Array }).data)), `request ${i}`);
    });
    assert.is(frameFiles.failed, true);
    assert.is(said.length, 1);
    assert.match(said[0], `cannot go through files in ${folder}`);
  } finally {
    console.error = log;
    frameFiles.failed = false;
    if (env === undefined) delete process.env.VJEPA_SHM_DIR;
    else process.env.VJEPA_SHM_DIR = env;
  }
});

test('parse ffmpeg stderr sections', () => {
  const s = parseFfmpegSections(
    [
      "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.mp4':",
      '  Duration: 00:01:01.50, start: 0.000000, bitrate: 54 kb/s',
      '    Stream #0:0(und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 96x96 [SAR 1:1 DAR 1:1], 50 kb/s, 29.97 fps, 29.97 tbr, 12800 tbn, 50 tbc (default)',
      "Output #0, rawvideo, to 'pipe:3':",
      '    Stream #0:0(und): Video: rawvideo (RGB[24] / 0x18424752), rgb24, 97x61 [SAR 1:1 DAR 97:61], q=2-31, 200 kb/s, 25 fps, 25 tbn, 25 tbc',
    ].join('\n'),
  );
  assert.equal(s[0], { kind: 'input', index: 0, duration: 61.5, codec: 'h264', width: 96, height: 96, fps: 29.97 });
  assert.is(s[1].kind, 'output');
  assert.equal([s[1].width, s[1].height], [97, 61]);
});

test('teardown', () => {
  cleanup();
});

test.run();
