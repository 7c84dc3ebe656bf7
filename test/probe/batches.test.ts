// DATA-12 / EVAL: the original's probe loaders keep the last partial batch (drop_last=False, training
// too), so an epoch is ceil(N / B) steps and every training video is seen once per epoch. Both of our
// training paths: clips decoded every step, and cached features.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { runProbe } from '../../lib/probe/probe.js';
import { quiet, tinyConfig, tinySetup } from './helpers.js';

const setup = await tinySetup('vjepa-probe-batches-');

for (const cache of [false, true]) {
  test(`8 training videos in batches of 3 are 3 steps an epoch, the last of 2 (${cache ? 'cached features' : 'decoded clips'})`, async () => {
    const { config, ext } = tinyConfig(setup, { 'optimization.batch_size': 3, 'optimization.cache_features': cache, tag: `b3-${cache}` });
    const lines: string[] = [];
    const r = await runProbe(config, ext, { log: quiet(lines) });
    assert.ok(lines.some((l) => l.includes('2 epochs × 3 it, batch 3')), lines.join('\n'));
    const state = JSON.parse(readSafetensors(r.checkpoint).metadata.state);
    assert.is(state.lrStep, 6, 'the schedules stepped once a batch, the partial ones included');
    assert.is(state.wdStep, 6);
    // The train accuracy is over all 8 videos: a multiple of 12.5 %.
    const eighths = (state.trainTop1 * 8) / 100;
    assert.ok(Math.abs(eighths - Math.round(eighths)) < 1e-9, `train top-1 ${state.trainTop1}`);
  });
}

test.run();
