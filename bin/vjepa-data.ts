#!/usr/bin/env node
// npx vjepa-data synth --out DIR [...] | vjepa-data prepare --csv FILE --out DIR [...] | vjepa-data count --csv FILE [...]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { makeSynthDataset } from '../lib/data/synth.js';
import { prepareVideos } from '../lib/data/prepare.js';
import { countVideos } from '../lib/data/count.js';

const args = hideBin(process.argv);

/** Expected failures end in one line and exit 1, like the other CLIs (no help dump, no stack trace). */
function die(message: string): never {
  console.error(`vjepa-data: ${message}`);
  process.exit(1);
}

function parseSize(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`--size must look like WxH (got "${s}")`);
  const [w, h] = [Number(m[1]), Number(m[2])];
  // H.264 yuv420p needs even sides; checked here so nothing is written first.
  if (w % 2 || h % 2 || w < 8 || h < 8) throw new Error(`--size ${s}: width and height must be even and at least 8 (H.264 yuv420p)`);
  return [w, h];
}

/** The index CSVs a pretrain (data.datasets) or probe (data.dataset_train / dataset_val) YAML lists. */
function configDatasets(file: string): string[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    // the yaml package appends a multi-line excerpt; its first line names the line and column
    throw new Error(`--config ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const data = (doc as { data?: Record<string, unknown> } | null)?.data ?? {};
  const out: string[] = [];
  for (const key of ['datasets', 'dataset_train', 'dataset_val']) {
    const v = data[key];
    for (const p of Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]) {
      if (typeof p !== 'string') throw new Error(`--config ${file}: data.${key} must list CSV paths, got ${JSON.stringify(p)}`);
      out.push(p);
    }
  }
  if (out.length === 0) throw new Error(`--config ${file}: no data.datasets, data.dataset_train or data.dataset_val`);
  return out;
}

function intAtLeast(name: string, v: number | undefined, min: number, max = Infinity): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`--${name} must be an integer ${max === Infinity ? `>= ${min}` : `from ${min} to ${max}`}, got ${v}`);
  }
}

await yargs(args)
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
        .option('overwrite', { type: 'boolean', default: false, describe: 'replace a dataset already in --out' })
        .strict(),
    async (a) => {
      try {
        const [width, height] = parseSize(a.size);
        intAtLeast('videos', a.videos, 1);
        intAtLeast('val-videos', a['val-videos'], 1);
        intAtLeast('classes', a.classes, 2);
        intAtLeast('frames', a.frames, 1);
        if (!Number.isInteger(a.seed)) throw new Error(`--seed must be an integer, got ${a.seed}`);
        if (!(a.fps > 0)) throw new Error(`--fps must be > 0, got ${a.fps}`);
        // A dataset's index files are not replaced by accident (yours, or an earlier synth with its videos).
        const held = ['train.csv', 'val.csv', 'train', 'val'].filter((f) => existsSync(join(a.out, f)));
        if (held.length && !a.overwrite) throw new Error(`--out ${a.out} already holds a dataset (${held.join(', ')}); choose another folder or add --overwrite`);
        const ds = await makeSynthDataset(a.out, {
          videos: a.videos, valVideos: a['val-videos'], classes: a.classes, frames: a.frames, width, height, fps: a.fps, seed: a.seed, scene: a.scene,
          log: (m) => console.log(m),
        });
        console.log(`train: ${ds.trainCsv}\nval:   ${ds.valCsv}`);
      } catch (e) {
        die((e as Error).message);
      }
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
        .option('count', { type: 'boolean', default: true, describe: "store the outputs' frame counts and keyframes for the loaders (--no-count: don't)" })
        .strict(),
    async (a) => {
      try {
        if (!existsSync(a.csv)) throw new Error(`--csv ${a.csv}: file not found`);
        intAtLeast('short-side', a['short-side'], 8);
        intAtLeast('gop', a.gop, 1);
        intAtLeast('crf', a.crf, 0, 51); // libx264's range
        intAtLeast('jobs', a.jobs, 1);
        const r = await prepareVideos({
          csv: a.csv, outDir: a.out, outCsv: a['out-csv'], shortSide: a['short-side'], gop: a.gop, crf: a.crf, concurrency: a.jobs, overwrite: a.overwrite, count: a.count,
          log: (m) => console.log(m),
        });
        if (r.failed.length > 0) process.exitCode = 1;
      } catch (e) {
        die((e as Error).message);
      }
    },
  )
  .command(
    'count',
    "count the frames and keyframes of a CSV's videos ahead of training, into the store the loaders read (<csv>.vjepa-meta)",
    (y) =>
      y
        .option('csv', { type: 'string', array: true, describe: 'index CSV(s) (path label)' })
        .option('config', { type: 'string', array: true, describe: "a pretrain or probe YAML: its data.datasets, data.dataset_train and data.dataset_val" })
        .option('jobs', { type: 'number', describe: 'parallel ffmpeg processes (default: cores)' })
        .strict(),
    async (a) => {
      try {
        const csvs = [...new Set([...(a.config ?? []).flatMap(configDatasets), ...(a.csv ?? [])])];
        if (csvs.length === 0) throw new Error('give --csv FILE or --config CONFIG.yaml');
        for (const c of csvs) if (!existsSync(c)) throw new Error(`${a.csv?.includes(c) ? '--csv ' : ''}${c}: file not found`);
        intAtLeast('jobs', a.jobs, 1);
        const t0 = Date.now();
        const r = await countVideos({ csvPaths: csvs, jobs: a.jobs, log: (m) => console.log(m) });
        for (const f of r.failed.slice(0, 5)) console.error(`  cannot count ${f.path}: ${f.reason}`);
        if (r.failed.length > 5) console.error(`  ... and ${r.failed.length - 5} more`);
        csvs.forEach((c, i) => console.log(`${c}: ${r.files[i] ? `stored in ${r.files[i]}` : 'nowhere writable to store the counts'}`));
        console.log(`${r.videos} videos: ${r.counted} counted, ${r.known} already known, ${r.failed.length} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        if (r.failed.length > 0 || r.files.some((f) => f === null)) process.exitCode = 1;
      } catch (e) {
        die((e as Error).message);
      }
    },
  )
  .demandCommand(1, 'give a command: synth, prepare or count')
  .strict()
  .help()
  .fail((msg, err) => {
    const cmd = args.find((x) => x === 'synth' || x === 'prepare' || x === 'count');
    die(`${msg ?? err?.message ?? 'invalid arguments'} (see vjepa-data ${cmd ? `${cmd} ` : ''}--help)`);
  })
  .parseAsync();
