#!/usr/bin/env node
// npx vjepa-train CONFIG.yaml [--set key.path=value ...] [--strict] [--max-iterations N] [--overwrite]
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { positiveLimit, usageFail } from '../lib/config/cli.js';
import { loadPretrainConfig } from '../lib/config/index.js';
import { pretrain } from '../lib/train/pretrain.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('vjepa-train')
  .usage('$0 CONFIG.yaml [--set key.path=value ...]\n\nPretrains a V-JEPA encoder as the config says (the original\'s YAML keys).')
  .positional('config', { type: 'string', describe: 'pretraining YAML (e.g. configs/pretrain.yaml)' })
  .option('set', { type: 'string', array: true, default: [], describe: 'override a key, e.g. --set optimization.epochs=1' })
  // No default: an absent flag must leave meta.strict in the file in charge.
  .option('strict', { type: 'boolean', describe: 'unknown config keys are errors, not warnings (default: meta.strict in the file)' })
  .option('max-iterations', { type: 'number', describe: 'stop after N iterations in this process (the run stays resumable)' })
  .option('overwrite', { type: 'boolean', default: false, describe: 'start afresh in a logging.folder that already holds a run (its checkpoint and log are replaced)' })
  .demandCommand(1, 'give the config file: vjepa-train CONFIG.yaml')
  .strict()
  .fail(usageFail('vjepa-train'))
  .help()
  .parse();

const file = String(argv._[0]);
try {
  positiveLimit('--max-iterations', argv['max-iterations']);
  const { config, warnings } = loadPretrainConfig(file, argv.set as string[], { strict: argv.strict });
  for (const w of warnings) console.warn(`warning: ${w}`);
  const t0 = Date.now();
  const r = await pretrain(config, { tty: process.stdout.isTTY, maxIterations: argv['max-iterations'], overwrite: argv.overwrite });
  console.log(
    `done: ${r.iterations} iterations in ${((Date.now() - t0) / 1000).toFixed(1)} s; loss ${r.firstLoss.toFixed(4)} -> ${r.lastLoss.toFixed(4)}\n` +
      `checkpoint ${r.checkpoint}\nlog ${r.csv}\ncurves ${r.plot}`,
  );
} catch (e) {
  console.error(`vjepa-train: ${(e as Error).message}`);
  process.exit(1);
}
