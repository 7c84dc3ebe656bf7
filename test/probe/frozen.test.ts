// EVAL-02: the encoder is loaded strictly by checkpoint_key and stays bit-identical through a
// probe run (features recomputed every step, the path where an update could leak in).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { runProbe } from '../../lib/probe/probe.js';
import { AttentiveClassifier } from '../../lib/nn/pooler.js';
import { InitRng } from '../../lib/nn/init.js';
import { TINY, quiet, sameBits, snapshot, tinyConfig, tinySetup } from './helpers.js';

const setup = await tinySetup('vjepa-probe-frozen-');

test('frozen encoder: weights bit-identical before/after probing; the head does train', async () => {
  const { config, ext } = tinyConfig(setup);
  let before: Map<string, Float32Array> | null = null;
  let after: Map<string, Float32Array> | null = null;
  let headBefore: Map<string, Float32Array> | null = null;
  let headAfter: Map<string, Float32Array> | null = null;
  const lines: string[] = [];
  const r = await runProbe(config, ext, {
    log: quiet(lines),
    inspect: {
      loaded: (enc) => (before = snapshot(enc.namedParameters())),
      finished: (enc, clf) => {
        after = snapshot(enc.namedParameters());
        headAfter = snapshot(clf.namedParameters());
      },
    },
  });
  assert.ok(before && after);
  assert.equal(sameBits(before!, after!), [], 'encoder parameters changed');
  // Loaded from target_encoder.* (not the halved encoder.* copy).
  const ck = readSafetensors(setup.checkpoint).tensors;
  const fromFile = new Map([...ck].filter(([k]) => k.startsWith('target_encoder.')).map(([k, v]) => [k.slice(15), v.data as Float32Array]));
  assert.equal(sameBits(fromFile, after!), []);
  // The classifier's saved weights differ from a fresh init: training happened.
  const saved = readSafetensors(r.checkpoint).tensors;
  headBefore = new Map([...saved].filter(([k]) => k.startsWith('classifier.')).map(([k, v]) => [k.slice(11), v.data as Float32Array]));
  assert.equal(sameBits(headBefore, headAfter!), []);
  // ...and differ from the head's initial weights (same seed as runProbe: meta.seed + 1).
  const fresh = new AttentiveClassifier(TINY.embed_dim, TINY.num_heads, 2, new InitRng(config.meta.seed + 1));
  const changed = sameBits(snapshot(fresh.namedParameters()), headAfter!);
  fresh.dispose();
  assert.ok(changed.length >= 10, `only ${changed.length} head tensors changed`);
  assert.is(r.epochs, 2);
  assert.ok(existsSync(r.results) && existsSync(r.csv) && existsSync(r.plot));
  const json = JSON.parse(readFileSync(r.results, 'utf8'));
  assert.ok(json.val_top1 >= 0 && json.val_top1 <= 100 && json.epochs === 2 && typeof json.train_top1 === 'number');
  assert.ok(r.folder.endsWith(join('video_classification_frozen', 'tiny')));
  const csv = readFileSync(r.csv, 'utf8').trim().split('\n');
  assert.is(csv[0], 'epoch,train_loss,train_top1,val_loss,val_top1,val_top1_batch_mean,lr,wd,seconds');
  assert.is(csv.length, 3);
});

test('a missing checkpoint file says to run vjepa-train first', async () => {
  const { config, ext } = tinyConfig(setup, { 'pretrain.checkpoint': 'nope.safetensors' });
  try {
    await runProbe(config, ext, { log: () => undefined });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match((e as Error).message, /nope\.safetensors not found/);
    assert.match((e as Error).message, /vjepa-train/);
  }
});

test.run();
