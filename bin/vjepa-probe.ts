#!/usr/bin/env node
// npx vjepa-probe CONFIG.yaml [--set key.path=value ...] [--strict] [--max-epochs N]
// npx vjepa-probe CONFIG.yaml --eval-only [--probe-checkpoint FILE]
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { positiveLimit, usageFail } from '../lib/config/cli.js';
import { loadProbeRunConfig } from '../lib/probe/config.js';
import { runProbe, scoreProbe } from '../lib/probe/probe.js';

const argv = await yargs(hideBin(process.argv))
  .scriptName('vjepa-probe')
  .usage(
    '$0 CONFIG.yaml [--set key.path=value ...]\n$0 CONFIG.yaml --eval-only [--probe-checkpoint FILE]\n\n' +
      "Frozen evaluation: trains an attentive probe on a frozen pretrained encoder (the original's eval YAML keys).\n" +
      "--eval-only scores a saved probe instead (ours or the original's .pth.tar): one pass over the val split.",
  )
  .positional('config', { type: 'string', describe: 'probe YAML (e.g. configs/ssv2.yaml)' })
  .option('set', { type: 'string', array: true, default: [], describe: 'override a key, e.g. --set pretrain.checkpoint=null' })
  // No default: an absent flag must leave meta.strict in the file in charge.
  .option('strict', { type: 'boolean', describe: 'unknown config keys are errors, not warnings (default: meta.strict in the file)' })
  .option('max-epochs', { type: 'number', describe: 'stop after N epochs in this process (the run stays resumable with resume_checkpoint: true)' })
  .option('eval-only', {
    type: 'boolean',
    describe: 'no training: score a saved probe on the val split (the training run\'s protocol) and write <tag>-eval-results.json and <tag>-eval-predictions.csv (one row per val sample) in the run folder',
  })
  .option('overwrite', { type: 'boolean', default: false, describe: 'replace a probe run already in the run folder (without resume_checkpoint)' })
  .option('probe-checkpoint', {
    type: 'string',
    describe: "with --eval-only: the probe to score, ours (.safetensors) or the original's (.pth.tar) (default: the run folder's <write_tag>-latest)",
  })
  .demandCommand(1, 'give the config file: vjepa-probe CONFIG.yaml')
  .check((a) => {
    if (a['probe-checkpoint'] !== undefined && !a['eval-only']) throw new Error('--probe-checkpoint goes with --eval-only (a training run resumes from its own folder)');
    if (a['max-epochs'] !== undefined && a['eval-only']) throw new Error('--max-epochs does not go with --eval-only (scoring trains nothing)');
    return true;
  })
  .strict()
  .fail(usageFail('vjepa-probe'))
  .help()
  .parse();

const file = String(argv._[0]);
try {
  positiveLimit('--max-epochs', argv['max-epochs']);
  const { config, ext, warnings } = loadProbeRunConfig(file, argv.set as string[], { strict: argv.strict });
  for (const w of warnings) console.warn(`warning: ${w}`);
  if (argv['eval-only']) {
    const r = await scoreProbe(config, ext, { probeCheckpoint: argv['probe-checkpoint'] });
    console.log(`eval results ${r.results}\npredictions ${r.predictions}`);
    console.log(`val top-1: ${r.val_top1.toFixed(2)}%`);
  } else {
    const r = await runProbe(config, ext, { maxEpochs: argv['max-epochs'], overwrite: argv.overwrite });
    console.log(`curves ${r.plot}\nlog ${r.csv}\ncheckpoint ${r.checkpoint}${r.stopped_early ? '' : `\nresults ${r.results}`}`);
    console.log(
      `done in ${r.seconds.toFixed(1)} s (features ${r.feature_seconds.toFixed(1)} s): ${r.epochs} epochs, train top-1 ${r.train_top1.toFixed(2)}%` +
        `${r.random_init ? ' (random-init encoder)' : ''}`,
    );
    console.log(`val top-1: ${r.val_top1.toFixed(2)}%`);
  }
} catch (e) {
  console.error(`vjepa-probe: ${(e as Error).message}`);
  process.exit(1);
}
