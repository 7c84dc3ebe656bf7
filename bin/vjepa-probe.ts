#!/usr/bin/env node
// npx vjepa-probe CONFIG.yaml [--set key.path=value ...] [--strict] [--max-epochs N]
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { positiveLimit, usageFail } from '../lib/config/cli.js';
import { loadProbeRunConfig } from '../lib/probe/config.js';
import { runProbe } from '../lib/probe/probe.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('vjepa-probe')
  .usage(
    '$0 CONFIG.yaml [--set key.path=value ...]\n\nFrozen evaluation: trains an attentive probe on a frozen pretrained encoder (the original\'s eval YAML keys).',
  )
  .positional('config', { type: 'string', describe: 'probe YAML (e.g. configs/ssv2.yaml)' })
  .option('set', { type: 'string', array: true, default: [], describe: 'override a key, e.g. --set pretrain.checkpoint=null' })
  // No default: an absent flag must leave meta.strict in the file in charge.
  .option('strict', { type: 'boolean', describe: 'unknown config keys are errors, not warnings (default: meta.strict in the file)' })
  .option('max-epochs', { type: 'number', describe: 'stop after N epochs in this process (the run stays resumable with resume_checkpoint: true)' })
  .demandCommand(1, 'give the config file: vjepa-probe CONFIG.yaml')
  .strict()
  .fail(usageFail('vjepa-probe'))
  .help()
  .parse();

const file = String(argv._[0]);
try {
  positiveLimit('--max-epochs', argv['max-epochs']);
  const { config, ext, warnings } = loadProbeRunConfig(file, argv.set as string[], { strict: argv.strict });
  for (const w of warnings) console.warn(`warning: ${w}`);
  const r = await runProbe(config, ext, { maxEpochs: argv['max-epochs'] });
  console.log(`curves ${r.plot}\nlog ${r.csv}\ncheckpoint ${r.checkpoint}${r.stopped_early ? '' : `\nresults ${r.results}`}`);
  console.log(
    `done in ${r.seconds.toFixed(1)} s (features ${r.feature_seconds.toFixed(1)} s): ${r.epochs} epochs, train top-1 ${r.train_top1.toFixed(2)}%` +
      `${r.random_init ? ' (random-init encoder)' : ''}`,
  );
  console.log(`val top-1: ${r.val_top1.toFixed(2)}%`);
} catch (e) {
  console.error(`vjepa-probe: ${(e as Error).message}`);
  process.exit(1);
}
