#!/usr/bin/env node
// vjepa-masks CONFIG.yaml [--batches N] [--json] [--png FILE] [--set key=value ...]
// Samples the config's mask collator and reports, per mask config, the mean/min/max over batches of
// the context (K_enc) and target (K_pred) token counts after batch-min truncation (MASK-02/03).
import { writeFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { usageFail } from '../lib/config/cli.js';
import { loadPretrainConfig, type PretrainConfig } from '../lib/config/index.js';
import { MaskCollator, maskStats, type MaskBatch } from '../lib/masks/index.js';
import { Canvas, parseColor } from '../lib/plot/canvas.js';

const COLORS = { context: parseColor('#2ca02c'), target: parseColor('#d62728'), dropped: parseColor('#c8c8c8') };

function collatorFor(c: PretrainConfig): MaskCollator {
  return new MaskCollator({
    masks: c.mask,
    maskType: c.data.mask_type,
    numFrames: c.data.num_frames,
    tubeletSize: c.data.tubelet_size,
    cropSize: c.data.crop_size,
    patchSize: c.data.patch_size,
    seed: c.meta.seed,
  });
}

/** One block per mask config; within it rows = samples, columns = time steps, each cell the H'xW' grid. */
function drawMasks(col: MaskCollator, batch: MaskBatch, samples: number): Buffer {
  const { T, H, W } = col.grid;
  const px = Math.max(2, Math.min(8, Math.floor(96 / Math.max(H, W))));
  const gap = 3;
  const cellW = W * px;
  const cellH = H * px;
  const labelH = 12;
  const blockH = labelH + samples * (cellH + gap);
  const width = 4 + T * (cellW + gap) + 1;
  const height = batch.ctx.length * (blockH + 6) + 4;
  const c = new Canvas(width, height);
  batch.ctx.forEach((ctx, i) => {
    const tgt = batch.tgt[i];
    const y0 = 4 + i * (blockH + 6);
    c.text(4, y0, `mask ${i}: context ${ctx.K} / target ${tgt.K} of ${T * H * W}`, [0, 0, 0]);
    for (let s = 0; s < samples; s++) {
      const state = new Uint8Array(T * H * W); // 0 dropped, 1 context, 2 target
      for (const k of ctx.data.subarray(s * ctx.K, (s + 1) * ctx.K)) state[k] = 1;
      for (const k of tgt.data.subarray(s * tgt.K, (s + 1) * tgt.K)) state[k] = 2;
      for (let d = 0; d < T; d++) {
        for (let h = 0; h < H; h++) {
          for (let w = 0; w < W; w++) {
            const v = state[d * H * W + h * W + w];
            const color = v === 1 ? COLORS.context : v === 2 ? COLORS.target : COLORS.dropped;
            c.fillRect(4 + d * (cellW + gap) + w * px, y0 + labelH + s * (cellH + gap) + h * px, px, px, color);
          }
        }
      }
    }
  });
  return c.toPng();
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('vjepa-masks')
    .usage('$0 CONFIG.yaml [--batches N] [--json] [--png FILE]')
    .command('$0 <config>', 'sample the mask collator of a pretraining config and print token-count statistics')
    .positional('config', { type: 'string', describe: 'pretraining YAML (CFG-01)', demandOption: true })
    .option('batches', { type: 'number', default: 100, describe: 'number of batches to sample' })
    .option('batch-size', { type: 'number', describe: 'override data.batch_size' })
    .option('json', { type: 'boolean', default: false, describe: 'print {"masks":[{"context":{mean,min,max},"target":{...}}]}' })
    .option('png', { type: 'string', describe: 'draw the first batch (frames x samples; context / target / dropped)' })
    .option('set', { type: 'string', array: true, default: [], describe: 'override a config key: key.path=value (YAML value)' })
    // No default: an absent flag must leave meta.strict in the file in charge.
    .option('strict', { type: 'boolean', describe: 'unknown config keys are errors (default: meta.strict in the file)' })
    .strict()
    .fail(usageFail('vjepa-masks'))
    .help()
    .parseAsync();

  const { config, warnings } = loadPretrainConfig(argv.config as string, argv.set as string[], { strict: argv.strict });
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  const batches = argv.batches;
  if (!Number.isInteger(batches) || batches < 1) throw new Error(`--batches must be a positive integer, got ${batches}`);
  const batchSize = argv['batch-size'] ?? config.data.batch_size;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`--batch-size must be a positive integer, got ${batchSize}`);

  const stats = maskStats(collatorFor(config), batches, batchSize);
  if (argv.json) {
    process.stdout.write(JSON.stringify({ masks: stats }) + '\n');
  } else {
    const col = collatorFor(config);
    const { T, H, W } = col.grid;
    process.stdout.write(`grid ${T}x${H}x${W} = ${T * H * W} tokens, batch ${batchSize}, ${batches} batches, mask_type ${config.data.mask_type}\n`);
    const f = (x: number) => x.toFixed(1).padStart(8);
    stats.forEach((s, i) => {
      const m = config.mask[i];
      process.stdout.write(
        `mask ${i} (${m.num_blocks} blocks, spatial ${m.spatial_scale.join('-')}, temporal ${m.temporal_scale.join('-')}, aspect ${m.aspect_ratio.join('-')})\n` +
          `  context K_enc : mean ${f(s.context.mean)}  min ${f(s.context.min)}  max ${f(s.context.max)}  (${((100 * s.context.mean) / (T * H * W)).toFixed(1)}%)\n` +
          `  target  K_pred: mean ${f(s.target.mean)}  min ${f(s.target.min)}  max ${f(s.target.max)}  (${((100 * s.target.mean) / (T * H * W)).toFixed(1)}%)\n`,
      );
    });
  }
  if (argv.png) {
    const col = collatorFor(config);
    const shown = Math.min(batchSize, 8);
    writeFileSync(argv.png, drawMasks(col, col.sample(0, batchSize), shown));
    if (!argv.json) process.stdout.write(`wrote ${argv.png} (batch 0, ${shown} samples)\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`vjepa-masks: ${(e as Error).message}\n`);
  process.exit(1);
});
