import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countFrames, countFramesAndKeys, ffmpegPath, runFfmpeg } from '../../lib/data/ffmpeg.js';
import { packKeyFrames } from '../../lib/data/seek.js';
import { partialName, prepareVideos } from '../../lib/data/prepare.js';
import { readMetaFile } from '../../lib/data/meta-cache.js';
import { makeIndexVideo, tempDir } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// above any pid_max, so never a live process
const DEAD_PID = 999999999;

test('prepare: outputs appear only under final names; a dead run\'s temporary is removed and not counted as done', async () => {
  const { dir, cleanup } = tempDir('prepare');
  try {
    await makeIndexVideo(join(dir, 'a.mp4'), 16, 64, 48);
    const csv = join(dir, 'idx.csv');
    writeFileSync(csv, 'a.mp4 0 \nmissing.mp4 1\n');
    const outDir = join(dir, 'out');
    mkdirSync(outDir);
    const out = join(outDir, 'a.mp4');
    // a truncated leftover from a killed run, and one from a run that is still alive (left alone)
    writeFileSync(partialName(out, DEAD_PID), 'truncated');
    writeFileSync(partialName(out, process.ppid), 'in progress elsewhere');
    const logs: string[] = [];
    const r = await prepareVideos({ csv, outDir, shortSide: 32, concurrency: 1, log: (m) => logs.push(m) });
    assert.is(r.written, 1);
    assert.is(r.skipped, 0);
    assert.equal(r.failed.map((f) => f.path), [join(dir, 'missing.mp4')]);
    assert.equal(readdirSync(outDir).sort(), ['a.mp4', `a.mp4.partial-${process.ppid}`, 'idx.csv', 'idx.csv.vjepa-meta']);
    assert.is(await countFrames(out), 16);
    assert.is(readFileSync(join(outDir, 'idx.csv'), 'utf8'), `${out} 0\n`);
    // the loaders find the new video's frame count and keyframes without decoding it
    const stored = readMetaFile(join(outDir, 'idx.csv.vjepa-meta')).entries.get(out)!;
    assert.is(stored.frameCount, 16);
    assert.equal(Array.from(stored.keyframes!), Array.from(packKeyFrames((await countFramesAndKeys(out)).keyframes)));
    assert.ok(stored.keyframes!.length >= 8, 'GOP 8 over 16 frames: at least 2 keyframes');
    assert.is(r.counts, join(outDir, 'idx.csv.vjepa-meta'));
    assert.is(logs.length, 3);
    assert.ok(logs[0].startsWith(`prepare: skipping "${join(dir, 'missing.mp4')}": ffmpeg exit 1: `), logs[0]);
    assert.ok(/No such file or directory/.test(logs[0]), logs[0]);
    assert.is(logs[1], `prepare: 1 re-encoded, 0 already there, 1 failed -> ${join(outDir, 'idx.csv')}`);
    assert.is(logs[2], `prepare: frame counts of 1 videos in ${join(outDir, 'idx.csv.vjepa-meta')}`);
    const again = await prepareVideos({ csv, outDir, shortSide: 32, concurrency: 1 });
    assert.equal([again.written, again.skipped], [0, 1]);
  } finally {
    cleanup();
  }
});

/** Pid of the running ffmpeg whose command line mentions `needle`, or -1. */
function findFfmpeg(needle: string): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv[0] === ffmpegPath() && argv.some((a) => a.includes(needle))) return Number(d);
    } catch {
      // exited meanwhile
    }
  }
  return -1;
}

/** Running (not gone and not a zombie awaiting its reaper). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test('prepare: SIGKILL mid-encode leaves no final file, stops ffmpeg, and the next run re-encodes', async () => {
  if (process.platform !== 'linux') return;
  const { dir, cleanup } = tempDir('prepare-kill');
  let ff = -1;
  try {
    // tiny cheap source, upscaled so that one encode lasts several seconds
    const src = join(dir, 'long.mp4');
    const mk = await runFfmpeg(['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=25', '-t', '60', '-c:v', 'mpeg4', '-q:v', '5', src]);
    assert.is(mk.code, 0, mk.stderr);
    const csv = join(dir, 'idx.csv');
    writeFileSync(csv, 'long.mp4 3\n');
    const outDir = join(dir, 'out');
    const mod = new URL('../../lib/data/prepare.js', import.meta.url).href;
    const script = `const { prepareVideos } = await import(${JSON.stringify(mod)});
await prepareVideos({ csv: ${JSON.stringify(csv)}, outDir: ${JSON.stringify(outDir)}, shortSide: 720, concurrency: 1 });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    const tmp = partialName(join(outDir, 'long.mp4'), child.pid);
    for (let k = 0; k < 200 && !(existsSync(tmp) && statSync(tmp).size > 0 && (ff = findFfmpeg(tmp)) > 0); k++) await sleep(50);
    assert.ok(ff > 0, 'the encode did not start');
    child.kill('SIGKILL');
    await exited;
    for (let k = 0; k < 60 && running(ff); k++) await sleep(50);
    assert.not.ok(running(ff), 'ffmpeg still runs 3 s after its parent was killed');
    assert.not.ok(existsSync(join(outDir, 'long.mp4')), 'a killed encode must not appear under the final name');
    assert.ok(existsSync(tmp));
    const r = await prepareVideos({ csv, outDir, shortSide: 8, concurrency: 1 });
    assert.equal([r.written, r.skipped, r.failed.length], [1, 0, 0]);
    assert.equal(readdirSync(outDir).sort(), ['idx.csv', 'idx.csv.vjepa-meta', 'long.mp4']);
    assert.is(await countFrames(join(outDir, 'long.mp4')), 1500);
  } finally {
    // without the fix the orphan would run on: stop it
    if (ff > 0 && running(ff)) process.kill(ff, 'SIGKILL');
    cleanup();
  }
});

test.run();
