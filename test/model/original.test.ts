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
import { AttentiveClassifier } from '../../lib/nn/pooler.js';
import { InitRng } from '../../lib/nn/init.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { backward, noGrad } from '../../lib/autograd.js';
import { crossEntropy } from '../../lib/ops/loss.js';
import { WarmupCosineSchedule, CosineWDSchedule, scheduleSteps } from '../../lib/optim/schedules.js';
import type { VJepa } from '../../lib/nn/vjepa.js';
import { assertClose } from '../helpers/compare.js';
import { assertStep0, tinyModel } from './parity-fixture.js';

const FX = fileURLToPath(new URL('../../../test/fixtures/original/', import.meta.url));
const file = readSafetensors(join(FX, 'original_tiny.safetensors'));
const st = file.tensors;
const C = JSON.parse(file.metadata.config);
const LOSS = JSON.parse(file.metadata.loss);
const PROBE = JSON.parse(file.metadata.probe);
const N_MASKS = JSON.parse(file.metadata.masks).length;
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

test.run();
