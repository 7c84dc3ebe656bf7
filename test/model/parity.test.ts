// Reproduces the PyTorch debug state written by reference/make_parity_fixture.py (llm.c's
// test_gpt2 pattern): outputs, losses and every gradient of step 0, then 5 full
// AdamW + EMA steps with the schedules and post-warmup clipping.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import type { HostTensor } from '../../lib/io/host-tensor.js';
import { Tensor, tidy } from '../../lib/tensor.js';
import { backward, noGrad } from '../../lib/autograd.js';
import { targetNorm } from '../../lib/nn/vit.js';
import { jepaForward, type MaskPair } from '../../lib/train/iteration.js';
import { AdamW, clipGradNorm } from '../../lib/optim/adamw.js';
import { WarmupCosineSchedule, CosineWDSchedule, EmaMomentumSchedule, scheduleSteps } from '../../lib/optim/schedules.js';
import { assertClose } from '../helpers/compare.js';
import { loadParityFixture } from './parity-fixture.js';
import { settledLive } from '../helpers/gc.js';


const fixture = loadParityFixture(fileURLToPath(new URL('../../../test/fixtures/parity/', import.meta.url)));
const st = fixture.tensors;
const meta = fixture.meta;
const f32 = (name: string): Float32Array => {
  const t = st.get(name);
  if (!t) throw new Error(`fixture has no ${name}`);
  return t.data as Float32Array;
};
const host = (name: string): HostTensor => st.get(name)!;
const build = fixture.buildModel;

function inputs(): { x: Tensor; masks: MaskPair[] } {
  const x = Tensor.from(f32('x'), host('x').shape);
  const masks = [0, 1].map((i) => ({
    ctx: Tensor.from(host(`mask.ctx_${i}`).data as Int32Array, host(`mask.ctx_${i}`).shape, 'int32'),
    tgt: Tensor.from(host(`mask.tgt_${i}`).data as Int32Array, host(`mask.tgt_${i}`).shape, 'int32'),
  }));
  return { x, masks };
}

const S = meta.schedule;

test('our sincos tables equal the fixture (uniform_power truncation at D=64 and 32)', () => {
  const model = build();
  assertClose(model.encoder.posEmbed.toFloat32Array(), f32('encoder.pos_embed'), 1e-6, 'pos_embed');
  assertClose(model.predictor.posEmbed.toFloat32Array(), f32('predictor.predictor_pos_embed'), 1e-6, 'predictor_pos_embed');
  model.dispose();
});

test('step 0: targets, context features, predictions, losses and every gradient', () => {
  const model = build();
  tidy(() => {
    const { x, masks } = inputs();
    const h = noGrad(() => targetNorm(model.targetEncoder.forward(x)));
    assertClose(h.toFloat32Array(), f32('step0.h'), 1e-4, 'h');
    for (let i = 0; i < 2; i++) {
      const z = noGrad(() => model.encoder.forward(x, masks[i].ctx));
      assertClose(z.toFloat32Array(), f32(`step0.z_${i}`), 1e-4, `z_${i}`);
    }
    const out = jepaForward(model, x, masks, S.loss_exp, S.reg_coeff);
    for (let i = 0; i < 2; i++) assertClose(out.preds[i].toFloat32Array(), f32(`step0.p_${i}`), 1e-4, `p_${i}`);
    assertClose([out.lossJepa], f32('step0.loss_jepa'), 1e-5, 'loss_jepa');
    assertClose([out.lossReg], f32('step0.loss_reg'), 1e-5, 'loss_reg');
    assertClose([out.loss.item()], f32('step0.loss'), 1e-5, 'loss');
    backward(out.loss);
    let checked = 0;
    for (const [prefix, m] of [['encoder', model.encoder], ['predictor', model.predictor]] as const) {
      for (const [name, t] of m.trainableParameters()) {
        const ref = f32(`grad.${prefix}.${name}`);
        assert.ok(t.grad, `${prefix}.${name} has no gradient`);
        assertClose(t.grad!.toFloat32Array(), ref, 1e-3, `grad ${prefix}.${name}`);
        checked++;
      }
    }
    assert.ok(checked > 40, `checked ${checked} gradients`);
  });
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
