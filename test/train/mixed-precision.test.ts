// meta.dtype: bfloat16 (TRAIN-09) on the parity fixture's tiny V-JEPA: full pretraining steps
// with bf16 GEMM operands track the fp32 steps to bf16 accuracy without being fp32, free
// every buffer, and the trainer picks the precision per device as the original does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { native } from '../../lib/native.js';
import { Tensor, memoryStats, tidy } from '../../lib/tensor.js';
import { backward } from '../../lib/autograd.js';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { autocast } from '../../lib/ops/autocast.js';
import { assertClose, maxRelError } from '../helpers/compare.js';
import { AdamW } from '../../lib/optim/adamw.js';
import { jepaForward, pretrainStep, type StepRecord } from '../../lib/train/iteration.js';
import { trainingMatmulDtype } from '../../lib/train/pretrain.js';
import type { MatmulDtype } from '../../lib/ops/autocast.js';
import { loadParityFixture } from '../model/parity-fixture.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const fixture = loadParityFixture(fileURLToPath(new URL('../../../test/fixtures/parity/', import.meta.url)));
const S = fixture.meta.schedule;

async function settledLive(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return memoryStats().liveTensors;
}

function weightsOf(model: ReturnType<typeof fixture.buildModel>): Map<string, Float32Array> {
  const weights = new Map<string, Float32Array>();
  for (const [n, p] of model.encoder.namedParameters()) weights.set(`encoder.${n}`, p.tensor.toFloat32Array());
  for (const [n, p] of model.predictor.namedParameters()) weights.set(`predictor.${n}`, p.tensor.toFloat32Array());
  return weights;
}

function run(matmulDtype: MatmulDtype): { records: StepRecord[]; initial: Map<string, Float32Array>; weights: Map<string, Float32Array> } {
  const model = fixture.buildModel();
  const initial = weightsOf(model);
  const opt = new AdamW(model.paramGroups(), { betas: S.betas, eps: S.eps });
  const h = (n: string) => fixture.tensors.get(n)!;
  const clips = Tensor.from(h('x').data as Float32Array, h('x').shape);
  const masks = [0, 1].map((i) => ({
    ctx: Tensor.from(h(`mask.ctx_${i}`).data as Int32Array, h(`mask.ctx_${i}`).shape, 'int32'),
    tgt: Tensor.from(h(`mask.tgt_${i}`).data as Int32Array, h(`mask.tgt_${i}`).shape, 'int32'),
  }));
  const records: StepRecord[] = [];
  // a large constant lr so that 5 steps move the weights well past bf16 rounding
  for (let i = 0; i < S.steps; i++)
    records.push(pretrainStep(model, opt, clips, masks, { lossExp: S.loss_exp, regCoeff: S.reg_coeff, lr: 1e-3, wd: 0.04, momentum: 0.99, clipGrad: 10, matmulDtype }));
  const weights = weightsOf(model);
  for (const t of [clips, ...masks.flatMap((m) => [m.ctx, m.tgt])]) t.dispose();
  opt.dispose();
  model.dispose();
  return { records, initial, weights };
}

test('bf16 steps track fp32 steps to bf16 accuracy (and are not fp32)', async () => {
  const before = await settledLive();
  const f32 = run('float32');
  const b16 = run('bfloat16');
  assert.is(await settledLive(), before, 'every buffer of the bf16 run is freed');
  let lossDiffers = false;
  for (let i = 0; i < f32.records.length; i++) {
    const [a, b] = [f32.records[i], b16.records[i]];
    const rel = Math.abs(b.loss - a.loss) / a.loss;
    assert.ok(rel < 1e-2, `step ${i}: loss ${b.loss} (bf16) vs ${a.loss} (fp32), rel ${rel.toExponential(2)}`);
    if (b.loss !== a.loss) lossDiffers = true;
    for (const k of ['encGradNorm', 'predGradNorm'] as const) {
      const g = Math.abs(b[k] - a[k]) / a[k];
      assert.ok(g < 5e-2, `step ${i}: ${k} ${b[k]} (bf16) vs ${a[k]} (fp32)`);
    }
  }
  assert.ok(lossDiffers, 'bf16 losses are bit-identical to fp32: the bf16 path did not run');
  // How far bf16 lands from fp32, against how far fp32 moved from the start (Adam steps are
  // ~lr per weight whatever the gradient's size, so per-tensor maxima would be dominated by
  // sign flips of near-zero gradients).
  let diff = 0, moved = 0;
  for (const [k, w] of f32.weights) {
    const w16 = b16.weights.get(k)!, w0 = f32.initial.get(k)!;
    for (let i = 0; i < w.length; i++) {
      diff += (w16[i] - w[i]) ** 2;
      moved += (w[i] - w0[i]) ** 2;
    }
  }
  const ratio = Math.sqrt(diff / moved);
  assert.ok(ratio > 0 && ratio < 0.1, `|w_bf16 - w_fp32| / |w_fp32 - w_0| = ${ratio.toExponential(2)} after ${S.steps} steps`);
});

// The fixture emulates the scheme with attention in fp32 (the widened path). On AVX512-BF16 the
// CPU's attention forward rounds P to bf16 as well (test/native/attention.test.ts checks that
// kernel against float64), so this comparison runs on the widened path.
test('one bf16 forward + backward equals the PyTorch emulation of the scheme (reference/make_bf16_fixture.py)', () => {
  if (native.isa().best === 'avx512bf16') native.setIsa('avx512');
  try {
    fixtureStep();
  } finally {
    native.setIsa('auto');
  }
});

function fixtureStep(): void {
  const ref = readSafetensors(fileURLToPath(new URL('../../../test/fixtures/parity/vjepa_tiny_bf16.safetensors', import.meta.url))).tensors;
  const want = (k: string) => ref.get(k)!.data as Float32Array;
  const model = fixture.buildModel();
  const h = (n: string) => fixture.tensors.get(n)!;
  tidy(() => {
    const clips = Tensor.from(h('x').data as Float32Array, h('x').shape);
    const masks = [0, 1].map((i) => ({
      ctx: Tensor.from(h(`mask.ctx_${i}`).data as Int32Array, h(`mask.ctx_${i}`).shape, 'int32'),
      tgt: Tensor.from(h(`mask.tgt_${i}`).data as Int32Array, h(`mask.tgt_${i}`).shape, 'int32'),
    }));
    autocast('bfloat16', () => {
      const out = jepaForward(model, clips, masks, S.loss_exp, S.reg_coeff);
      assertClose([out.loss.item()], want('bf16.loss'), 2e-6, 'loss');
      assertClose([out.lossJepa], want('bf16.loss_jepa'), 2e-6, 'loss_jepa');
      backward(out.loss);
    });
  });
  let n = 0;
  for (const [prefix, mod] of [['encoder.', model.encoder], ['predictor.', model.predictor]] as const)
    for (const [name, p] of mod.namedParameters()) {
      const key = `bf16.grad.${prefix}${name}`;
      if (!ref.has(key)) continue;
      // What bf16 does to this gradient (vs the fp32 fixture) sets the bound: a GEMM left in fp32 on
      // its path would miss by about that much, while fp32 rounding differences that flip a bf16
      // rounding upstream stay below a tenth of it (worst in the first encoder block).
      const effect = maxRelError(want(key), fixture.tensors.get(`grad.${prefix}${name}`)!.data as Float32Array);
      assertClose(p.tensor.grad!.toFloat32Array(), want(key), Math.max(2e-5, 0.25 * effect), key);
      n++;
    }
  assert.ok(n >= 20, `compared ${n} gradients`);
  model.dispose();
}

test('trainingMatmulDtype: bf16 / fp16 mixed precision on CUDA and on CPUs with AVX512-BF16, fp32 on other CPUs (TRAIN-09)', () => {
  const lines: string[] = [];
  const log = (s: string) => lines.push(s);
  assert.is(trainingMatmulDtype('float32', 'cuda:0', log), 'float32');
  assert.is(trainingMatmulDtype('float32', 'cpu', log, 'avx512bf16'), 'float32');
  assert.is(lines.length, 0, 'fp32 asked, nothing said');
  for (const isa of ['avx512', 'avx2', 'portable']) {
    assert.is(trainingMatmulDtype('bfloat16', 'cpu', log, isa), 'float32');
    assert.match(lines.pop()!, new RegExp(`meta.dtype: bfloat16 runs as float32 on this CPU \\(${isa}, no AVX512-BF16`));
  }
  assert.is(trainingMatmulDtype('bfloat16', 'cpu', log, 'avx512bf16'), 'bfloat16');
  assert.match(lines.pop()!, /meta.dtype: bf16 mixed precision on the CPU \(AVX512-BF16/);
  assert.is(trainingMatmulDtype('float16', 'cpu', log, 'avx512bf16'), 'bfloat16');
  assert.match(lines.pop()!, /float16 runs as bfloat16/);
  assert.match(lines.pop()!, /bf16 mixed precision on the CPU/);
  // the default reads the addon's active instruction set
  assert.is(trainingMatmulDtype('bfloat16', 'cpu', log), native.isa().active === 'avx512bf16' ? 'bfloat16' : 'float32');
  assert.is(trainingMatmulDtype('bfloat16', 'cuda:0', log), 'bfloat16');
  assert.match(lines.pop()!, /GEMMs and attention take bf16 operands \(fp32 accumulation\).*residual stream, weights, gradients and optimizer state stay fp32/);
  assert.is(trainingMatmulDtype('float16', 'cuda', log), 'bfloat16');
  assert.match(lines.pop()!, /float16 runs as bfloat16/);
  assert.is(trainingMatmulDtype('float64', 'cuda', log), 'float32');
});

test.run();
