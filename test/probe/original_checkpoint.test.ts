// The original's own probe checkpoints (its eval's `{write_tag}-latest.pth.tar`, Meta's released probes):
// original_probe.pth.tar was written by the original code (reference/make_original_fixture.py) for this
// directory's encoder (D 32, 2 heads, 2 classes) after 3 AdamW updates; its logits on pc.x are pc.logits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { readTorchCheckpoint } from '../../lib/io/torch-pickle.js';
import { toFloat32 } from '../../lib/io/host-tensor.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { noGrad } from '../../lib/autograd.js';
import { AttentiveClassifier } from '../../lib/nn/pooler.js';
import { InitRng } from '../../lib/nn/init.js';
import { AdamW } from '../../lib/optim/adamw.js';
import { loadProbeCheckpoint, saveProbeCheckpoint } from '../../lib/probe/checkpoint.js';
import { classifierParamGroups, probePaths, runProbe } from '../../lib/probe/probe.js';
import { assertClose } from '../helpers/compare.js';
import { TINY, tinyConfig, tinySetup } from './helpers.js';

const FX = fileURLToPath(new URL('../../../test/fixtures/original/', import.meta.url));
const PROBE = join(FX, 'original_probe.pth.tar');
const fx = readSafetensors(join(FX, 'original_tiny.safetensors')).tensors;
const PROJ = ['pooler.cross_attention_block.xattn.proj.weight', 'pooler.cross_attention_block.xattn.proj.bias'];

const head = (seed: number, classes = 2) => new AttentiveClassifier(TINY.embed_dim, TINY.num_heads, classes, new InitRng(seed));

test("loadProbeCheckpoint reads the original's .pth.tar: its logits, its AdamW state, its epoch", () => {
  const clf = head(123);
  const opt = new AdamW(classifierParamGroups(clf));
  const st = loadProbeCheckpoint(PROBE, clf, opt, 5);
  assert.is(st.format, 'torch');
  assert.is(st.epoch, 1);
  assert.is(st.lrStep, 5); // epoch · ipe, the fast-forward of a resume
  assert.is(st.wdStep, 5);
  assert.is(st.batchSize, 4);
  assert.is(st.lr, 1e-3);
  assert.equal(st.notes, ['AdamW state of 15 tensors']);

  const x = fx.get('pc.x')!;
  const logits = tidy(() => noGrad(() => clf.forward(Tensor.from(x.data as Float32Array, x.shape)).toFloat32Array()));
  assertClose(logits, fx.get('pc.logits')!.data as Float32Array, 1e-4, 'logits on pc.x');

  // Every trainable tensor but xattn.proj (never applied, so no gradient and no state in torch) has moments
  // after 3 updates.
  const state = opt.state();
  const names = clf.trainableParameters().map(([n]) => n);
  assert.equal([...state.keys()].sort(), names.filter((n) => !PROJ.includes(n)).sort());
  for (const [n, s] of state) assert.is(s.step, 3, n);
  // The moments are the file's, by the ids torch gave them: group 0 = weights (ids 0-6, xattn.proj.weight
  // is 3), group 1 = biases and 1-D tensors (ids 7-16, xattn.proj.bias is 11), in named_parameters order.
  const raw = readTorchCheckpoint(PROBE).opt.state;
  const ids: Record<string, string> = {
    'pooler.query_tokens': '0',
    'pooler.cross_attention_block.mlp.fc2.weight': '5',
    'linear.weight': '6',
    'pooler.cross_attention_block.norm1.weight': '7',
    'pooler.cross_attention_block.xattn.kv.bias': '10',
    'pooler.cross_attention_block.norm2.weight': '12',
    'linear.bias': '16',
  };
  for (const [name, id] of Object.entries(ids)) {
    assert.equal(Array.from(state.get(name)!.m.toFloat32Array()), Array.from(toFloat32(raw[id].exp_avg)), `exp_avg ${name}`);
    assert.equal(Array.from(state.get(name)!.v.toFloat32Array()), Array.from(toFloat32(raw[id].exp_avg_sq)), `exp_avg_sq ${name}`);
  }
  opt.dispose();
  clf.dispose();

  // Without an optimizer only the classifier loads; a head of another shape is refused, naming the file.
  const bare = head(5);
  const only = loadProbeCheckpoint(PROBE, bare, null);
  assert.ok(Number.isNaN(only.lrStep));
  bare.dispose();
  const three = head(5, 3);
  assert.throws(() => loadProbeCheckpoint(PROBE, three, null), (e: Error) => e.message.includes(`${PROBE} classifier`) && e.message.includes('linear.weight'));
  three.dispose();
});

test("resume_checkpoint: the original's <write_tag>-latest.pth.tar in the run folder continues at its epoch", async () => {
  const setup = await tinySetup('vjepa-probe-orig-resume-');
  const common = { 'optimization.cache_features': true, 'optimization.num_epochs': 3, 'pretrain.checkpoint': setup.checkpoint, resume_checkpoint: true };
  const run = (tag: string) => tinyConfig(setup, { ...common, tag });

  // The original's file, where its eval writes it.
  const orig = run('from-original');
  const origPaths = probePaths(orig.config);
  mkdirSync(origPaths.folder, { recursive: true });
  copyFileSync(PROBE, origPaths.original);
  const lines: string[] = [];
  const a = await runProbe(orig.config, orig.ext, { log: (s) => lines.push(s) });
  const log = lines.join('\n');
  assert.ok(lines.includes(`resume: no jepa-latest.safetensors in ${origPaths.folder}; taking the original's jepa-latest.pth.tar`), log);
  assert.ok(lines.includes(`resume: ${origPaths.original} after epoch 1`), log);
  assert.ok(lines.includes("resume: from the original's probe checkpoint: AdamW state of 15 tensors; this run saves to jepa-latest.safetensors"), log);
  assert.is(a.epochs, 3);
  const csv = (p: string) => readFileSync(p, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  assert.equal(csv(a.csv).map((r) => r[0]), ['2', '3'], 'epochs 2 and 3 trained');

  // The schedules were fast-forwarded by 1 · ipe: epochs 2 and 3 end at the lr / wd an uninterrupted run has there.
  const fresh = tinyConfig(setup, { ...common, resume_checkpoint: false, tag: 'uninterrupted' });
  const u = await runProbe(fresh.config, fresh.ext, { log: () => undefined });
  assert.equal(csv(a.csv).map((r) => r.slice(6, 8)), csv(u.csv).slice(1).map((r) => r.slice(6, 8)));

  // The run went on from the file's weights and moments: it ends where a resume from the same state in our
  // own checkpoint format ends, bit for bit, and the AdamW step counts continue from 3 (ipe 2: 3 + 2 · 2).
  const ours = run('from-ours');
  const oursPaths = probePaths(ours.config);
  mkdirSync(oursPaths.folder, { recursive: true });
  const clf = head(99);
  const opt = new AdamW(classifierParamGroups(clf));
  const st = loadProbeCheckpoint(PROBE, clf, opt, 2);
  saveProbeCheckpoint(oursPaths.checkpoint, clf, opt, st);
  opt.dispose();
  clf.dispose();
  const b = await runProbe(ours.config, ours.ext, { log: () => undefined });
  const fa = readSafetensors(a.checkpoint);
  const fb = readSafetensors(b.checkpoint);
  assert.is(fa.tensors.size, fb.tensors.size);
  for (const [k, v] of fa.tensors) assert.equal(Array.from(v.data as Float32Array), Array.from(fb.tensors.get(k)!.data as Float32Array), k);
  const steps = JSON.parse(fa.metadata.opt_steps) as Record<string, number>;
  assert.is(steps['linear.weight'], 7);
  assert.is(steps['pooler.query_tokens'], 7);
  assert.is(a.val_top1, b.val_top1);
  // ...which is not where a fresh start ends.
  assert.not.equal(
    Array.from(fa.tensors.get('classifier.linear.weight')!.data as Float32Array),
    Array.from(readSafetensors(u.checkpoint).tensors.get('classifier.linear.weight')!.data as Float32Array),
  );
});

test.run();
