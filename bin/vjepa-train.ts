#!/usr/bin/env node
// npx vjepa-train CONFIG.yaml [--set key.path=value ...] [--strict]
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadPretrainConfig } from '../lib/config/index.js';
import { pretrain } from '../lib/train/pretrain.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('vjepa-train')
  .usage('$0 CONFIG.yaml [--set key.path=value ...]\n\nPretrains a V-JEPA encoder as the config says (the original\'s YAML keys).')
  .positional('config', { type: 'string', describe: 'pretraining YAML (e.g. configs/pretrain.yaml)' })
  .option('set', { type: 'string', array: true, default: [], describe: 'override a key, e.g. --set optimization.epochs=1' })
  .option('strict', { type: 'boolean', default: false, describe: 'unknown config keys are errors, not warnings' })
  .option('max-iterations', { type: 'number', describe: 'stop after N iterations in this process (the run stays resumable)' })
  .demandCommand(1, 'give the config file: vjepa-train CONFIG.yaml')
  .strict()
  .help()
  .parse();

const file = String(argv._[0]);
try {
  const { config, warnings } = loadPretrainConfig(file, argv.set as string[], { strict: argv.strict });
  for (const w of warnings) console.warn(`warning: ${w}`);
  const t0 = Date.now();
  const r = await pretrain(config, { tty: process.stdout.isTTY, maxIterations: argv['max-iterations'] });
  console.log(
    `done: ${r.iterations} iterations in ${((Date.now() - t0) / 1000).toFixed(1)} s; loss ${r.firstLoss.toFixed(4)} -> ${r.lastLoss.toFixed(4)}\n` +
      `checkpoint ${r.checkpoint}\nlog ${r.csv}\ncurves ${r.plot}`,
  );
} catch (e) {
  console.error(`vjepa-train: ${(e as Error).message}`);
  process.exit(1);
}
