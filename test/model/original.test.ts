// Against the ORIGINAL facebookresearch/jepa code, not our reading of it: reference/make_original_fixture.py
// imported the original repository's modules, mask collator and schedulers, and wrote their outputs and
// gradients (test/fixtures/original/). The weights come in the original's checkpoint layout, so they go
// through our .pth.tar reader first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { readTorchCheckpoint } from '../../lib/io/torch-pickle.js';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { loadStateDict, section, stripPrefixes } from '../../lib/nn/state.js';
import { sincos3dTable } from '../../lib/nn/posemb.js';
import { AttentiveClassifier } from '../../lib/nn/pooler.js';
import { InitRng } from '../../lib/nn/init.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { backward, noGrad } from '../../lib/autograd.js';
import { crossEntropy } from '../../lib/ops/loss.js';
import { WarmupCosineSchedule, CosineWDSchedule, EmaMomentumSchedule, scheduleSteps } from '../../lib/optim/schedules.js';
import { AdamW, clipGradNorm } from '../../lib/optim/adamw.js';
import { loadCheckpoint } from '../../lib/train/checkpoint.js';
import { jepaForward } from '../../lib/train/iteration.js';
import type { VJepa } from '../../lib/nn/vjepa.js';
import { assertClose } from '../helpers/compare.js';
import { assertStep0, stepInputs, tinyModel } from './parity-fixture.js';

const FX = fileURLToPath(new URL('../../../test/fixtures/original/', import.meta.url));
const file = readSafetensors(join(FX, 'original_tiny.safetensors'));
const st = file.tensors;
const C = JSON.parse(file.metadata.config);
const LOSS = JSON.parse(file.metadata.loss);
const PROBE = JSON.parse(file.metadata.probe);
const N_MASKS = JSON.parse(file.metadata.masks).length;
const RUN = JSON.parse(file.metadata.run);
const NEXT = JSON.parse(file.metadata.next);
const CKPT = join(FX, 'original_tiny.pth.tar');
const get = (k: string): HostTensor => {
  const t = st.get(k);
  if (!t) throw new Error(`fixture has no ${k}`);
  return t;
};

/** Our model with the three sections of the original-layout checkpoint, loaded strictly. */
function fromCheckpoint(): VJepa {
  const ckpt = readTorchCheckpoint(join(FX, 'original_tiny.pth.tar'));
  const model = tinyModel(C);
  for (const [key, m] of [['encoder', model.encoder], ['predictor', model.predictor], ['target_encoder', model.targetEncoder]] as const) {
    const sd = new Map<string, HostTensor>(Object.entries(ckpt[key]).map(([k, v]) => [stripPrefixes(k), v as HostTensor]));
    const r = loadStateDict(m, sd, { what: `original_tiny.pth.tar ${key}` });
    assert.equal([r.missing, r.unexpected, r.mismatched], [[], [], []], key);
  }
  return model;
}

test('the original modules: targets, context features, predictions, losses and every gradient (masks from its collator)', () => {
  const model = fromCheckpoint();
  const checked = assertStep0(model, st, N_MASKS, LOSS.loss_exp, LOSS.reg_coeff);
  assert.is(checked, model.encoder.trainableParameters().length + model.predictor.trainableParameters().length);
  assert.ok(checked > 40, `checked ${checked} gradients`);
  model.dispose();
});

test('the original trilinear position-table resize: target encoder on a 10x48x48 clip (build size 6x32x32)', () => {
  const model = fromCheckpoint();
  tidy(() => {
    const x = Tensor.from(get('resize.x').data as Float32Array, get('resize.x').shape);
    const out = noGrad(() => model.targetEncoder.forward(x));
    assert.equal(out.shape, get('resize.out').shape);
    assertClose(out.toFloat32Array(), get('resize.out').data as Float32Array, 1e-4, 'resize.out');
  });
  model.dispose();
});

test('the original attentive classifier (depth 2): logits, CE loss and gradients; xattn.proj is not applied', () => {
  const clf = new AttentiveClassifier(PROBE.embed_dim, PROBE.num_heads, PROBE.num_classes, new InitRng(0), { depth: PROBE.depth });
  const r = loadStateDict(clf, section(st, 'probe.param.'), { what: 'original probe' });
  assert.is(r.loaded.length, clf.namedParameters().length);
  tidy(() => {
    const x = Tensor.from(get('probe.x').data as Float32Array, get('probe.x').shape);
    const labels = Tensor.from(get('probe.labels').data as Int32Array, get('probe.labels').shape, 'int32');
    const logits = clf.forward(x);
    assertClose(logits.toFloat32Array(), get('probe.logits').data as Float32Array, 1e-4, 'logits');
    const loss = crossEntropy(logits, labels);
    assertClose([loss.item()], get('probe.loss').data as Float32Array, 1e-5, 'loss');
    backward(loss);
  });
  let checked = 0;
  for (const [name, p] of clf.namedParameters()) {
    const ref = st.get(`probe.grad.${name}`);
    if (!ref) {
      // The original's CrossAttention never calls its output projection, so it gets no gradient there.
      assert.ok(name.startsWith('pooler.cross_attention_block.xattn.proj.'), `the fixture has no gradient for ${name}`);
      assert.not.ok(p.tensor.grad, `${name} has a gradient, but the original never uses it`);
      continue;
    }
    assert.ok(p.tensor.grad, `${name} has no gradient`);
    assertClose(p.tensor.grad!.toFloat32Array(), ref.data as Float32Array, 1e-3, `grad ${name}`);
    checked++;
  }
  assert.is(checked, clf.namedParameters().length - 2);
  clf.dispose();
});

test("the original's sincos tables at ViT-L/H/g and predictor widths (uniform_power on and off)", () => {
  const keys = [...st.keys()].filter((k) => k.startsWith('posemb.') && k.endsWith('.rows'));
  assert.is(keys.length, 5);
  for (const k of keys) {
    const name = k.slice('posemb.'.length, -'.rows'.length);
    const m = /^(\d+)_(\d+)x(\d+)x(\d+)_(uniform|split)$/.exec(name);
    assert.ok(m, name);
    const [D, T, H, W] = m!.slice(1, 5).map(Number);
    const table = tidy(() => sincos3dTable(T, H, W, D, m![5] === 'uniform').toFloat32Array());
    const index = get(`posemb.${name}.index`).data as Int32Array;
    const rows = new Float32Array(index.length * D);
    index.forEach((r, i) => rows.set(table.subarray(r * D, (r + 1) * D), i * D));
    assertClose(rows, get(k).data as Float32Array, 1e-6, `${name} rows`);
    const colsum = new Float64Array(D);
    for (let r = 0; r < T * H * W; r++) for (let c = 0; c < D; c++) colsum[c] += table[r * D + c];
    assertClose(colsum, get(`posemb.${name}.colsum`).data as Float32Array, 1e-5, `${name} column sums`);
  }
});

test("the original's WarmupCosineSchedule and CosineWDSchedule, stepped before every update", () => {
  const S = JSON.parse(readFileSync(join(FX, 'original_schedules.json'), 'utf8'));
  const { warmup, total } = scheduleSteps({ warmupEpochs: S.warmup, epochs: S.epochs, ipe: S.ipe, ipeScale: S.ipe_scale });
  assert.equal([warmup, total], [S.W, S.T]);
  const lr = new WarmupCosineSchedule({ startLr: S.start_lr, refLr: S.ref_lr, finalLr: S.final_lr, warmupSteps: warmup, totalSteps: total });
  const wd = new CosineWDSchedule({ refWd: S.ref_wd, finalWd: S.final_wd, totalSteps: total });
  assert.is(S.lr.length, S.ipe * S.epochs);
  for (let i = 0; i < S.lr.length; i++) {
    assertClose([lr.step()], [S.lr[i]], 1e-12, `lr at update ${i}`);
    assertClose([wd.step()], [S.wd[i]], 1e-12, `wd at update ${i}`);
  }
  // The original leaves the excluded (bias / 1-D) group's weight decay at 0.
  assert.is(S.excluded_group_wd, 0);
});

test("resume from the original's training checkpoint: weights, AdamW state, schedules; the next update matches", () => {
  const model = tinyModel(C);
  const opt = new AdamW(model.paramGroups(), { betas: RUN.betas, eps: RUN.eps });
  const { state, notes } = loadCheckpoint(CKPT, model, opt, RUN.ipe);
  assert.equal([state.epoch, state.iteration, state.lrStep, state.emaStep, state.maskCounters], [1, RUN.ipe, RUN.ipe, RUN.ipe, null]);
  // every trainable tensor had a gradient in the original's run, so every one has moments (pos_embed has none)
  const trainable = model.encoder.trainableParameters().length + model.predictor.trainableParameters().length;
  assert.equal(notes, [`AdamW state of ${trainable} tensors`]);
  assert.ok([...opt.state().values()].every((s) => s.step === RUN.ipe), 'step counts from the file');

  const { warmup, total } = scheduleSteps({ warmupEpochs: RUN.warmup, epochs: RUN.epochs, ipe: RUN.ipe, ipeScale: RUN.ipe_scale });
  const lr = new WarmupCosineSchedule({ startLr: RUN.start_lr, refLr: RUN.lr, finalLr: RUN.final_lr, warmupSteps: warmup, totalSteps: total });
  const wd = new CosineWDSchedule({ refWd: RUN.wd, finalWd: RUN.final_wd, totalSteps: total });
  const ema = new EmaMomentumSchedule({ start: RUN.ema[0], end: RUN.ema[1], ipe: RUN.ipe, epochs: RUN.epochs, ipeScale: RUN.ipe_scale });
  lr.skip(state.lrStep);
  wd.skip(state.wdStep);
  ema.skip(state.emaStep);
  const [lrV, wdV, m] = [lr.step(), wd.step(), ema.step()];
  assertClose([lrV, wdV, m], [NEXT.lr, NEXT.wd, NEXT.momentum], 1e-12, 'lr, wd, momentum of the next update');

  tidy(() => {
    const { x, masks } = stepInputs(st, N_MASKS);
    backward(jepaForward(model, x, masks, LOSS.loss_exp, LOSS.reg_coeff).loss);
  });
  assert.ok(state.epoch > RUN.warmup, 'clipping is on for this update');
  const en = clipGradNorm(model.encoder.trainableParameters().map(([, t]) => t), RUN.clip_grad);
  const pn = clipGradNorm(model.predictor.trainableParameters().map(([, t]) => t), RUN.clip_grad);
  assertClose([en, pn], [NEXT.enc_grad_norm, NEXT.pred_grad_norm], 1e-4, 'encoder and predictor grad norms');
  opt.step(lrV, wdV);
  model.zeroGrad();
  model.emaUpdate(m);
  let checked = 0;
  for (const key of st.keys()) {
    if (!key.startsWith('after.')) continue;
    const [, sec, ...rest] = key.split('.');
    const mod = sec === 'encoder' ? model.encoder : sec === 'predictor' ? model.predictor : model.targetEncoder;
    const p = mod.namedParameters().find(([n]) => n === rest.join('.'));
    assert.ok(p, key);
    assertClose(p![1].tensor.toFloat32Array(), get(key).data as Float32Array, 1e-4, key);
    checked++;
  }
  assert.is(checked, 8);
  opt.dispose();
  model.dispose();
});

test("the original's checkpoint: what resuming refuses, by name", () => {
  const model = tinyModel(C);
  const opt = new AdamW(model.paramGroups());
  // a probe checkpoint (the original's eval layout) cannot resume pretraining
  const probe = join(FX, 'original_probe.pth.tar');
  assert.throws(() => loadCheckpoint(probe, model, opt, 2), (e: Error) =>
    e.message.startsWith(`${probe}: not a pretraining checkpoint of the original: no encoder, predictor, target_encoder (it holds: classifier, opt, scaler, epoch, batch_size, world_size, lr)`));
  // a model of another depth: every problem listed, nothing half-loaded silently
  const deep = tinyModel({ ...C, depth: 3 });
  assert.throws(() => loadCheckpoint(CKPT, deep, null), (e: Error) => /missing keys \(\d+\): blocks\.2\./.test(e.message) && e.message.includes('original_tiny.pth.tar encoder'));
  deep.dispose();
  opt.dispose();
  model.dispose();
});

test.run();
