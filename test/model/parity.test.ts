// Reproduces the PyTorch debug state written by reference/make_parity_fixture.py (llm.c's
// test_gpt2 pattern): outputs, losses and every gradient of step 0, then 5 full
// AdamW + EMA steps with the schedules and post-warmup clipping.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { Tensor, tidy } from '../../lib/tensor.js';
import { backward } from '../../lib/autograd.js';
import { jepaForward } from '../../lib/train/iteration.js';
import { AdamW, clipGradNorm } from '../../lib/optim/adamw.js';
import { WarmupCosineSchedule, CosineWDSchedule, EmaMomentumSchedule, scheduleSteps } from '../../lib/optim/schedules.js';
import { assertClose } from '../helpers/compare.js';
import { assertStep0, loadParityFixture, stepInputs } from './parity-fixture.js';
import { settledLive } from '../helpers/gc.js';


const fixture = loadParityFixture(fileURLToPath(new URL('../../../test/fixtures/parity/', import.meta.url)));
const st = fixture.tensors;
const meta = fixture.meta;
const f32 = (name: string): Float32Array => {
  const t = st.get(name);
  if (!t) throw new Error(`fixture has no ${name}`);
  return t.data as Float32Array;
};
const build = fixture.buildModel;

const inputs = () => stepInputs(st, 2);

const S = meta.schedule;

test('our sincos tables equal the fixture (uniform_power truncation at D=64 and 32)', () => {
  const model = build();
  assertClose(model.encoder.posEmbed.toFloat32Array(), f32('encoder.pos_embed'), 1e-6, 'pos_embed');
  assertClose(model.predictor.posEmbed.toFloat32Array(), f32('predictor.predictor_pos_embed'), 1e-6, 'predictor_pos_embed');
  model.dispose();
});

test('step 0: targets, context features, predictions, losses and every gradient', () => {
  const model = build();
  const checked = assertStep0(model, st, 2, S.loss_exp, S.reg_coeff);
  assert.ok(checked > 40, `checked ${checked} gradients`);
  model.dispose();
});

test('5 AdamW + EMA steps reproduce the losses, schedules and final weights', async () => {
  const liveBefore = await settledLive();
  const model = build();
  const { warmup, total } = scheduleSteps({ warmupEpochs: S.warmup_epochs, epochs: S.epochs, ipe: S.ipe, ipeScale: S.ipe_scale });
  const lr = new WarmupCosineSchedule({ startLr: S.start_lr, refLr: S.lr, finalLr: S.final_lr, warmupSteps: warmup, totalSteps: total });
  const wd = new CosineWDSchedule({ refWd: S.weight_decay, finalWd: S.final_weight_decay, totalSteps: total });
  const ema = new EmaMomentumSchedule({ start: S.ema[0], end: S.ema[1], ipe: S.ipe, epochs: S.epochs, ipeScale: S.ipe_scale });
  const opt = new AdamW(model.paramGroups(), { betas: S.betas, eps: S.eps });
  const encParams = model.encoder.trainableParameters().map(([, t]) => t);
  const predParams = model.predictor.trainableParameters().map(([, t]) => t);
  const { x, masks } = inputs();
  for (let step = 0; step < S.steps; step++) {
    const rec = meta.steps[step];
    const lrV = lr.step();
    const wdV = wd.step();
    assertClose([lrV], [rec.lr], 1e-9, `lr at step ${step}`);
    assertClose([wdV], [rec.wd], 1e-9, `wd at step ${step}`);
    tidy(() => {
      const out = jepaForward(model, x, masks, S.loss_exp, S.reg_coeff);
      assertClose([out.loss.item()], [rec.loss], 1e-4, `loss at step ${step}`);
      backward(out.loss);
    });
    const epoch = Math.floor(step / S.ipe);
    if (epoch > S.warmup_epochs) {
      const en = clipGradNorm(encParams, S.clip_grad);
      const pn = clipGradNorm(predParams, S.clip_grad);
      assertClose([en], [rec.enc_grad_norm], 1e-3, `encoder grad norm at step ${step}`);
      assertClose([pn], [rec.pred_grad_norm], 1e-3, `predictor grad norm at step ${step}`);
    }
    opt.step(lrV, wdV);
    model.zeroGrad();
    const m = ema.step();
    assertClose([m], [rec.momentum], 1e-9, `momentum at step ${step}`);
    model.emaUpdate(m);
  }
  const byName = (mod: { namedParameters(): readonly [string, { tensor: Tensor }][] }, n: string) =>
    mod.namedParameters().find(([k]) => k === n)![1].tensor.toFloat32Array();
  for (const key of st.keys()) {
    if (!key.startsWith('after5.')) continue;
    const [, which, ...rest] = key.split('.');
    const name = rest.join('.');
    const mod = which === 'encoder' ? model.encoder : which === 'predictor' ? model.predictor : model.targetEncoder;
    assertClose(byName(mod, name), f32(key), 1e-4, key);
  }
  x.dispose();
  for (const m of masks) {
    m.ctx.dispose();
    m.tgt.dispose();
  }
  opt.dispose();
  model.dispose();
  assert.is(await settledLive(), liveBefore, 'every native buffer is freed');
});

test.run();
