#!/usr/bin/env node
// npx vjepa-embed --checkpoint FILE --config CONFIG.yaml (--input CLIPS.npy | --video FILE... | --csv FILE | --image FILE...) --out FEATURES.npy
// Frozen-encoder features (MOD-08) from an official .pth.tar or one of our safetensors checkpoints.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { usageFail } from '../lib/config/cli.js';
import { DEFAULT_BATCH_SIZE, runEmbed } from '../lib/embed/run.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('vjepa-embed')
  .usage(
    '$0 --checkpoint FILE --config CONFIG.yaml (--input CLIPS.npy | --video FILE... | --csv FILE | --image FILE...) --out FEATURES.npy\n\n' +
      'Runs the frozen encoder and writes float32 features [B, N, D] (or [B, D] with --pool mean).\n' +
      '--clips C, --views V and --layers L add their axes after the batch: [B, C, V, L, N, D].',
  )
  .option('checkpoint', { type: 'string', demandOption: true, describe: 'official .pth.tar / .pt, or a vjepa safetensors checkpoint' })
  .option('key', { type: 'string', describe: 'checkpoint section (default: target_encoder when present, else encoder)' })
  .option('config', { type: 'string', demandOption: true, describe: 'pretraining YAML: the model and data sections give the architecture' })
  .option('input', { type: 'string', describe: 'float32 .npy [B, 3, T, H, W] (or [B, 3, H, W] for an image model, data.num_frames 1), already normalised' })
  .option('video', { type: 'string', array: true, describe: 'video files: one eval clip each (centre crop; --clips for more)' })
  .option('csv', { type: 'string', array: true, describe: 'index CSV(s) of "path label" lines' })
  .option('image', { type: 'string', array: true, describe: 'image files, or folders of them (every image under it, sorted by path): the centre crop (DATA-11 val), repeated to num_frames for a video model (EVAL-07)' })
  .option('out', { type: 'string', demandOption: true, describe: 'output .npy' })
  .option('context-idx', { type: 'string', describe: 'int64/int32 .npy [B, K]: run on these tokens only' })
  .option('clips', { type: 'number', describe: 'clips per video (--video / --csv), spread over it as the probe\'s segments; adds a clip axis' })
  .option('views', { type: 'number', describe: 'spatial views per clip (--video / --csv), as the probe\'s eval views; adds a view axis' })
  .option('layers', { type: 'string', describe: 'comma-separated blocks (0-based, negative from the end, e.g. 11,-1): their outputs through the final norm' })
  .option('pool', { choices: ['none', 'mean'] as const, default: 'none' as const, describe: 'mean over tokens gives [B, D]' })
  .option('batch-size', { type: 'number', default: DEFAULT_BATCH_SIZE, describe: 'clips (--input), videos (--video / --csv) or images (--image) per forward pass' })
  .option('partial', { type: 'boolean', default: false, describe: 'load the keys that match and report the rest, instead of failing' })
  .option('workers', { type: 'number', describe: 'decoding worker processes for --video / --csv' })
  .option('device', { type: 'string', default: 'cpu', describe: "where the encoder runs: 'cpu', 'cuda' or 'cuda:N'" })
  .option('dtype', { choices: ['float32', 'bfloat16'] as const, default: 'float32' as const, describe: 'bfloat16: bf16 mixed precision (GEMM operands in bf16, fp32 accumulation): twice the GEMM rate on a CPU with AVX512-BF16, bf16 tensor cores on CUDA' })
  .option('quiet', { type: 'boolean', default: false, describe: 'no progress lines (stderr, every 10 s) and no summary line' })
  .strict()
  .fail(usageFail('vjepa-embed'))
  .help()
  .parse();

/** "11,-1" -> [11, -1]; anything else is a usage error naming the option. */
function parseLayers(s: string | undefined): number[] | undefined {
  if (s === undefined) return undefined;
  const parts = s.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^-?\d+$/.test(p))) throw new Error(`--layers must be comma-separated block indices such as 11,-1 (got "${s}")`);
  return parts.map(Number);
}

try {
  const t0 = Date.now();
  const r = await runEmbed({
    checkpoint: argv.checkpoint,
    key: argv.key,
    config: argv.config,
    input: argv.input,
    videos: argv.video,
    csv: argv.csv,
    images: argv.image,
    out: argv.out,
    contextIdx: argv['context-idx'],
    pool: argv.pool,
    batchSize: argv['batch-size'],
    partial: argv.partial,
    numWorkers: argv.workers,
    device: argv.device,
    dtype: argv.dtype,
    layers: parseLayers(argv.layers),
    clips: argv.clips,
    views: argv.views,
    progress: argv.quiet ? undefined : (m) => process.stderr.write(m + '\n'),
  });
  if (!argv.quiet) {
    const src = r.load.key === null ? r.load.path : `${r.load.path} [${r.load.key}]`;
    console.log(`wrote ${argv.out} [${r.shape.join(', ')}] float32 from ${src} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
} catch (e) {
  console.error(`vjepa-embed: ${(e as Error).message}`);
  process.exit(1);
}
