#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { makeSynthDataset } from '../lib/data/synth.js';
import { prepareVideos } from '../lib/data/prepare.js';

function parseSize(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`--size must look like WxH (got "${s}")`);
  return [Number(m[1]), Number(m[2])];
}

await yargs(hideBin(process.argv))
  .scriptName('vjepa-data')
  .command(
    'synth',
    'make a labelled synthetic video dataset (label = direction of motion of a square, or of the camera)',
    (y) =>
      y
        .option('out', { type: 'string', demandOption: true, describe: 'output folder' })
        .option('videos', { type: 'number', default: 200, describe: 'training videos' })
        .option('val-videos', { type: 'number', describe: 'validation videos (default: videos / 2)' })
        .option('classes', { type: 'number', default: 4, describe: 'motion directions (labels)' })
        .option('frames', { type: 'number', default: 48 })
        .option('size', { type: 'string', default: '96x96', describe: 'WxH (even)' })
        .option('fps', { type: 'number', default: 25 })
        .option('seed', { type: 'number', default: 0 })
        .option('scene', { choices: ['square', 'pan'] as const, default: 'square' as const, describe: 'a textured square moves, or the camera pans' })
        .strict(),
    async (a) => {
      const [width, height] = parseSize(a.size);
      const ds = await makeSynthDataset(a.out, {
        videos: a.videos, valVideos: a['val-videos'], classes: a.classes, frames: a.frames, width, height, fps: a.fps, seed: a.seed, scene: a.scene,
        log: (m) => console.log(m),
      });
      console.log(`train: ${ds.trainCsv}\nval:   ${ds.valCsv}`);
    },
  )
  .command(
    'prepare',
    "re-encode a CSV's videos to a short side with a short GOP (fast decoding) and write a new CSV",
    (y) =>
      y
        .option('csv', { type: 'string', demandOption: true, describe: 'input index CSV (path label)' })
        .option('out', { type: 'string', demandOption: true, describe: 'output folder for videos' })
        .option('out-csv', { type: 'string', describe: 'output CSV (default: <out>/<csv name>)' })
        .option('short-side', { type: 'number', default: 128 })
        .option('gop', { type: 'number', default: 8 })
        .option('crf', { type: 'number', default: 18 })
        .option('jobs', { type: 'number', describe: 'parallel encoders (default: cores)' })
        .option('overwrite', { type: 'boolean', default: false })
        .strict(),
    async (a) => {
      const r = await prepareVideos({
        csv: a.csv, outDir: a.out, outCsv: a['out-csv'], shortSide: a['short-side'], gop: a.gop, crf: a.crf, concurrency: a.jobs, overwrite: a.overwrite,
        log: (m) => console.log(m),
      });
      if (r.failed.length > 0) process.exitCode = 1;
    },
  )
  .demandCommand(1)
  .strict()
  .help()
  .parseAsync();
