// `vjepa-probe CONFIG --eval-only [--probe-checkpoint FILE]`: one val pass of a saved probe with the
// training run's protocol and clip draw, written to <tag>-eval-results.json and -eval-predictions.csv; nothing else in the run folder
// changes, no training data is read. And the errors: no checkpoint to score, a pretraining checkpoint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { probePaths, runProbe, scoreProbe } from '../../lib/probe/probe.js';
import { tinyConfig, tinyRaw, tinySetup } from './helpers.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const PROBE_BIN = join(ROOT, 'dist/bin/vjepa-probe.js');
const FX = join(ROOT, 'test/fixtures/original');

const setup = await tinySetup('vjepa-probe-eval-');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, [PROBE_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  const code = (await new Promise((res) => p.on('close', res))) as number;
  return { code, stdout, stderr };
}

function yamlFor(over: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vjepa-probe-eval-cli-')), 'probe.yaml');
  writeFileSync(file, stringify(tinyRaw(setup, { 'pretrain.checkpoint': setup.checkpoint, ...over })));
  return file;
}

/** name -> [mtime, bytes] of every file in the folder */
function folderState(dir: string): Map<string, [number, string]> {
  return new Map(readdirSync(dir).map((f) => [f, [statSync(join(dir, f)).mtimeMs, readFileSync(join(dir, f)).toString('base64')]]));
}

for (const cache of [false, true]) {
  test(`--eval-only on a trained probe reproduces its final val top-1 and loss exactly (cache_features ${cache}); nothing else changes`, async () => {
    // frame_step 1: a clip spans 4 of a segment's 6 frames, so its start is drawn (DATA-03 case A) and the val
    // clips of epoch 1 and 2 differ; the loss tells which were scored.
    const over = { tag: `scored-${cache}`, 'optimization.cache_features': cache, 'optimization.num_epochs': 2, 'pretrain.frame_step': 1 };
    const { config, ext } = tinyConfig(setup, { 'pretrain.checkpoint': setup.checkpoint, ...over });
    const trained = await runProbe(config, ext, { log: () => undefined });
    assert.is(trained.epochs, 2);
    const before = folderState(trained.folder);
    const paths = probePaths(config);

    // The CLI, with a training split that does not exist: scoring must not read it.
    const yaml = yamlFor({ ...over, 'data.dataset_train': join(setup.dir, 'no-such-train.csv') });
    const r = await cli([yaml, '--eval-only']);
    assert.is(r.code, 0, r.stdout + r.stderr);
    const out = r.stdout.trim().split('\n');
    assert.is(out[out.length - 1], `val top-1: ${trained.val_top1.toFixed(2)}%`, r.stdout);
    assert.ok(out.includes(`eval results ${paths.evalResults}`), r.stdout);
    assert.ok(r.stdout.includes(`probe: scoring ${paths.checkpoint} (vjepa probe checkpoint, after epoch 2)`), r.stdout);
    assert.ok(r.stdout.includes(`val clips of epoch ${cache ? 1 : 2}`), r.stdout);
    assert.not.ok(/features: train|\[1, +0\]/.test(r.stdout), 'no training features or steps');

    const json = JSON.parse(readFileSync(paths.evalResults, 'utf8'));
    assert.is(json.eval_only, true);
    assert.is(json.val_top1, trained.val_top1);
    assert.is(json.val_loss, trained.val_loss);
    assert.is(json.val_top1_batch_mean, trained.val_top1_batch_mean);
    assert.is(json.val_samples, 4);
    assert.is(json.probe_checkpoint, paths.checkpoint);
    assert.is(json.probe_checkpoint_format, 'vjepa');
    assert.is(json.probe_epoch, 2);
    assert.is(json.val_clips_of_epoch, cache ? 1 : 2);
    // one row per val video, in the val CSV's order, agreeing with the score; 2 classes: top-5 is everything
    assert.ok(out.includes(`predictions ${paths.evalPredictions}`), r.stdout);
    assert.is(json.predictions, paths.evalPredictions);
    const rows = readFileSync(paths.evalPredictions, 'utf8').trim().split('\n');
    assert.is(rows[0], 'path,label,prediction,correct,p_prediction,p_label,top5');
    const cells = rows.slice(1).map((l) => l.split(','));
    const val = readFileSync(setup.valCsv, 'utf8').trim().split('\n').map((l) => l.split(' '));
    assert.equal(cells.map((c) => [c[0], c[1]]), val.map(([f, l]) => [resolve(dirname(setup.valCsv), f), l]));
    const correct = cells.filter((c) => c[3] === '1').length;
    assert.is((100 * correct) / 4, trained.val_top1);
    for (const c of cells) {
      assert.is(c[3], c[1] === c[2] ? '1' : '0');
      assert.ok(Number(c[4]) >= Number(c[5]) && Number(c[4]) >= 0.5, c.join(','));
      assert.is(c[6].split(' ')[0], c[2]);
    }
    assert.is(json.val_top5, 100);
    assert.equal(json.per_class.map((t: any) => t.samples).reduce((a: number, b: number) => a + b), 4);
    assert.is(json.per_class.map((t: any) => t.correct).reduce((a: number, b: number) => a + b), correct);

    // The run folder: the training run's files untouched (contents and mtimes), the eval results added.
    const after = folderState(trained.folder);
    assert.equal([...after.keys()].sort(), [...before.keys(), `${config.tag}-eval-predictions.csv`, `${config.tag}-eval-results.json`].sort());
    for (const [f, s] of before) assert.equal(after.get(f), s, f);
    assert.is(JSON.parse(readFileSync(trained.results, 'utf8')).eval_only, undefined);

    // --probe-checkpoint names the same file: the same score.
    const again = await scoreProbe(config, ext, { probeCheckpoint: paths.checkpoint, log: () => undefined });
    assert.is(again.val_loss, trained.val_loss);
    // Scored with another val protocol than it was trained with: said, as the score then differs.
    const other = tinyConfig(setup, { 'pretrain.checkpoint': setup.checkpoint, ...over, 'data.num_views_per_segment': 1 });
    const lines: string[] = [];
    const changed = await scoreProbe(other.config, other.ext, { log: (l) => lines.push(l) });
    assert.ok(lines.includes("warning: data.num_views_per_segment: the probe was trained with 2, this config has 1; the score will differ from its training run's"), lines.join('\n'));
    assert.is.not(changed.val_loss, trained.val_loss);
    // Scored on another encoder section than it was trained on: said too.
    const online = tinyConfig(setup, { 'pretrain.checkpoint': setup.checkpoint, ...over, 'pretrain.checkpoint_key': 'encoder' });
    const lines2: string[] = [];
    await scoreProbe(online.config, online.ext, { log: (l) => lines2.push(l) });
    assert.ok(lines2.includes(`warning: pretrain.checkpoint_key: the probe was trained with "target_encoder", this config has "encoder"; the score will differ from its training run's`), lines2.join('\n'));
  });
}

test("--eval-only --probe-checkpoint scores the original's .pth.tar", async () => {
  const { config, ext } = tinyConfig(setup, { 'pretrain.checkpoint': setup.checkpoint, tag: 'scored-original' });
  const lines: string[] = [];
  const r = await scoreProbe(config, ext, { probeCheckpoint: join(FX, 'original_probe.pth.tar'), log: (s) => lines.push(s) });
  assert.is(r.probe_checkpoint_format, 'original');
  assert.is(r.probe_epoch, 1);
  assert.is(r.val_clips_of_epoch, 1);
  assert.ok(r.val_top1 >= 0 && r.val_top1 <= 100 && Number.isFinite(r.val_loss));
  assert.ok(lines.some((l) => l.startsWith(`probe: scoring ${join(FX, 'original_probe.pth.tar')} (the original's probe checkpoint, after epoch 1)`)), lines.join('\n'));
  assert.equal(readdirSync(r.folder).sort(), ['scored-original-eval-predictions.csv', 'scored-original-eval-results.json']);
});

test('--eval-only without a probe checkpoint: one error naming both files and the flag; nothing is written', async () => {
  const yaml = yamlFor({ tag: 'never-trained' });
  const r = await cli([yaml, '--eval-only']);
  assert.is(r.code, 1, r.stdout + r.stderr);
  const folder = resolve(setup.dir, 'video_classification_frozen', 'never-trained');
  assert.is(
    r.stderr.trim(),
    `vjepa-probe: --eval-only: no probe checkpoint to score: neither ${join(folder, 'jepa-latest.safetensors')} nor the original's ${join(folder, 'jepa-latest.pth.tar')} exists. ` +
      'Train the probe first (vjepa-probe CONFIG.yaml) or name a checkpoint with --probe-checkpoint FILE.',
  );
  assert.not.ok(existsSync(folder));
  // --probe-checkpoint belongs to --eval-only
  const u = await cli([yaml, '--probe-checkpoint', 'x.safetensors']);
  assert.is(u.code, 1);
  assert.ok(u.stderr.includes('--probe-checkpoint goes with --eval-only'), u.stderr);
});

test('--probe-checkpoint: a pretraining checkpoint (ours or the original\'s) or a missing file is refused by name', async () => {
  const { config, ext } = tinyConfig(setup, { 'pretrain.checkpoint': setup.checkpoint, tag: 'wrong-file' });
  const refused = async (file: string, ...parts: string[]) => {
    const lines: string[] = [];
    try {
      await scoreProbe(config, ext, { probeCheckpoint: file, log: (s) => lines.push(s) });
      assert.unreachable('should have thrown');
    } catch (e) {
      const m = (e as Error).message;
      for (const p of parts) assert.ok(m.includes(p), `${m}\nlacks: ${p}`);
    }
    assert.not.ok(lines.some((l) => l.startsWith('encoder:')), 'refused before the encoder was built');
  };
  await refused(
    setup.checkpoint,
    `--probe-checkpoint: ${setup.checkpoint}: not a vjepa probe checkpoint (format 'vjepa-pretrain/1', expected 'vjepa-probe/1'; it holds: target_encoder, encoder)`,
    'a pretraining checkpoint, which belongs in pretrain.checkpoint',
  );
  const orig = join(FX, 'original_tiny.pth.tar');
  await refused(
    orig,
    `--probe-checkpoint: ${orig}: not a probe checkpoint: no classifier (it holds: encoder, predictor, target_encoder, opt, scaler, epoch, loss, batch_size, world_size, lr)`,
    'a pretraining checkpoint, which belongs in pretrain.checkpoint',
  );
  await refused(join(setup.dir, 'nope.pth.tar'), `--probe-checkpoint: ${join(setup.dir, 'nope.pth.tar')} does not exist`);
  assert.not.ok(existsSync(probePaths(config).folder), 'no run folder was made');
});

test.run();
