// Full pretraining iterations on CUDA against the CPU (issue 7). The parity fixture's tiny
// V-JEPA, batch and masks; lib/train/iteration.ts's pretrainStep (forward, backward, clipping
// after warmup, AdamW, EMA) with the real schedules, on both devices from the same weights.
// After STEPS steps each side saves a checkpoint, loads it into a fresh model on its device
// and takes one more step, so checkpoint save (device -> host) and resume (host -> device)
// are covered too. A last section runs the trainer's upload-ahead pattern (writeAsync one step
// ahead, from the step's overlap hook) against synchronous uploads.
// Run: node test/gpu/step.mjs   It imports the compiled dist/ (npm run build:ts); the addon is
// found as lib/native.ts finds it (VJEPA_ADDON overrides). Works from test/gpu/ or dist/test/gpu/.
// VJEPA_GPU_DEVICE=cuda:N picks another GPU than cuda:0.
// Without a usable GPU it runs the CPU side only (so the harness is exercised) and exits 0.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Checks, settled as settledStats } from './checks.mjs';
import { compiled } from './dist.mjs';

const { root, lib, dist } = compiled(import.meta.url, 'lib/train/iteration.js');
const { native } = await lib('native.js');
const { Tensor, memoryStats } = await lib('tensor.js');
const { AdamW } = await lib('optim/adamw.js');
const { WarmupCosineSchedule, CosineWDSchedule, EmaMomentumSchedule, scheduleSteps } = await lib('optim/schedules.js');
const { pretrainStep } = await lib('train/iteration.js');
const { CastPlan } = await lib('ops/autocast.js');
const { saveCheckpoint, loadCheckpoint } = await lib('train/checkpoint.js');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

// fp32 tolerances: the loss per step (relative), every parameter after the steps (absolute),
// grad norms (relative; they gate clipping), AdamW moments (relative to each tensor's max).
const TOL = { loss: 1e-4, param: 1e-4, gradNorm: 1e-3, moment: 1e-2 };
// bf16 mixed precision, CUDA vs the CPU's bf16 path: the GEMMs see the same bf16 operands up to
// activations that round to another bf16 neighbour, but CUDA's attention also rounds P and dS to
// bf16 (tensor cores) where the CPU's stays fp32, so the bound is the bf16 1e-2. AdamW
// turns the sign of a tiny gradient into an lr-sized step, so a parameter may disagree by up to
// one lr per step: the parameter bound is Σ lr over the steps run (LR_SUM, set below; about
// 3.6e-3 here, where the emulator gives 1.95e-3). The moment bound is a first estimate.
const TOL_BF16 = { loss: 1e-2, param: NaN, gradNorm: 5e-2, moment: 0.1 };

const info = native.cudaInfo();
if (info.emulated) console.log('CUDA backend: the CPU emulator (test/native/cuda_emu): logic only, not speed or hardware rounding');
const GPU = info.available ? process.env.VJEPA_GPU_DEVICE ?? 'cuda:0' : null;
if (!GPU) console.log(`CUDA unavailable: ${info.reason}`);

const { loadParityFixture } = await dist('test/model/parity-fixture.js');
const fixture = loadParityFixture(join(root, 'test/fixtures/parity'));
const st = fixture.tensors;
const meta = fixture.meta;
const S = meta.schedule;
const STEPS = S.steps;

function build(device) {
  const model = fixture.buildModel();
  // As pretrain.ts does: built on the host, moved before the optimizer exists.
  if (device !== 'cpu') model.to(device);
  return { model, opt: new AdamW(model.paramGroups(), { betas: S.betas, eps: S.eps }) };
}

function inputs(device) {
  const h = (n) => st.get(n);
  return {
    clips: Tensor.from(h('x').data, h('x').shape, 'float32', device),
    masks: [0, 1].map((i) => ({
      ctx: Tensor.from(h(`mask.ctx_${i}`).data, h(`mask.ctx_${i}`).shape, 'int32', device),
      tgt: Tensor.from(h(`mask.tgt_${i}`).data, h(`mask.tgt_${i}`).shape, 'int32', device),
    })),
  };
}

function snapshot(model, opt) {
  const out = new Map();
  for (const [prefix, m] of [['encoder.', model.encoder], ['predictor.', model.predictor], ['target_encoder.', model.targetEncoder]])
    for (const [n, p] of m.namedParameters()) out.set(prefix + n, p.tensor.toFloat32Array());
  for (const [n, s] of opt.state()) {
    out.set(`opt.m.${n}`, s.m.toFloat32Array());
    out.set(`opt.v.${n}`, s.v.toFloat32Array());
  }
  return out;
}

// The fixture's schedules (and post-warmup clipping) as pretrainStep settings: call once per step
// i, in order, since each call advances lr, wd and EMA momentum.
function stepSettings() {
  const { warmup, total } = scheduleSteps({ warmupEpochs: S.warmup_epochs, epochs: S.epochs, ipe: S.ipe, ipeScale: S.ipe_scale });
  const lrS = new WarmupCosineSchedule({ startLr: S.start_lr, refLr: S.lr, finalLr: S.final_lr, warmupSteps: warmup, totalSteps: total });
  const wdS = new CosineWDSchedule({ refWd: S.weight_decay, finalWd: S.final_weight_decay, totalSteps: total });
  const emaS = new EmaMomentumSchedule({ start: S.ema[0], end: S.ema[1], ipe: S.ipe, epochs: S.epochs, ipeScale: S.ipe_scale });
  return (i, extra = {}) => ({
    lossExp: S.loss_exp,
    regCoeff: S.reg_coeff,
    lr: lrS.step(),
    wd: wdS.step(),
    momentum: emaS.step(),
    clipGrad: Math.floor(i / S.ipe) > S.warmup_epochs ? S.clip_grad : null,
    ...extra,
  });
}

// STEPS steps, checkpoint, fresh model + optimizer from the checkpoint, one more step. One bf16
// weight plan throughout, as the trainer keeps: the resumed model's weights replace the first's in it.
function run(device, matmulDtype = 'float32') {
  const settings = stepSettings();
  const castPlan = new CastPlan();
  const { clips, masks } = inputs(device);
  let { model, opt } = build(device);
  const records = [];
  const step = (i) =>
    records.push(
      pretrainStep(model, opt, clips, masks, settings(i, { matmulDtype, castPlan })),
    );
  for (let i = 0; i < STEPS; i++) step(i);
  const before = snapshot(model, opt);
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-gpu-step-'));
  const path = join(dir, 'ckpt.safetensors');
  saveCheckpoint(path, model, opt, { epoch: 0, iteration: STEPS, loss: 0, lrStep: 0, wdStep: 0, emaStep: 0, maskCounters: [], batchSize: 2, lr: S.lr, config: {} });
  model.dispose();
  opt.dispose();
  ({ model, opt } = build(device));
  loadCheckpoint(path, model, opt);
  rmSync(dir, { recursive: true, force: true });
  const reloaded = snapshot(model, opt);
  let roundTrip = 0; // save -> load must be exact on every device
  for (const [k, v] of before) {
    const r = reloaded.get(k);
    if (!r) throw new Error(`${device}: ${k} is missing after the checkpoint round trip`);
    for (let i = 0; i < v.length; i++) if (!Object.is(v[i], r[i])) roundTrip++;
  }
  step(STEPS);
  const after = snapshot(model, opt);
  const onDevice = model.encoder.posEmbed.device;
  model.dispose();
  opt.dispose();
  clips.dispose();
  for (const m of masks) {
    m.ctx.dispose();
    m.tgt.dispose();
  }
  return { records, after, roundTrip, onDevice };
}

const settled = () => settledStats(gc, memoryStats);
const checks = new Checks();
const row = (name, value, tol) => checks.row(name, value, tol);

// Rows comparing a device run with the CPU run of the same precision.
function compare(cpu, gpu, name, tol) {
  const rel = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
  for (let i = 0; i < cpu.records.length; i++) {
    const c = cpu.records[i], g = gpu.records[i];
    const tag = i === STEPS ? `step ${i} (resumed)` : `step ${i}`;
    row(`${name} ${tag} loss rel`, Math.max(rel(g.loss, c.loss), rel(g.lossJepa, c.lossJepa), rel(g.lossReg, c.lossReg)), tol.loss);
    row(`${name} ${tag} grad norm rel (enc, pred)`, Math.max(rel(g.encGradNorm, c.encGradNorm), rel(g.predGradNorm, c.predGradNorm)), tol.gradNorm);
  }
  let pAbs = 0, pRel = 0, pWorst = '-', mRel = 0, mWorst = '-', pSum = 0, pCount = 0;
  for (const [k, ref] of cpu.after) {
    const got = gpu.after.get(k);
    if (!got) {
      row(`${k} missing on ${name}`, Infinity, 0);
      continue;
    }
    let d = 0, m = 0;
    for (let i = 0; i < ref.length; i++) {
      const e = Math.abs(got[i] - ref[i]);
      if (!(e <= d)) d = Number.isNaN(e) ? Infinity : e;
      m = Math.max(m, Math.abs(ref[i]));
    }
    const r = d / Math.max(m, 1e-30);
    if (k.startsWith('opt.')) {
      if (!(r <= mRel)) [mRel, mWorst] = [r, k];
    } else {
      if (!(d <= pAbs)) [pAbs, pWorst] = [d, k];
      pRel = Math.max(pRel, r);
      for (let i = 0; i < ref.length; i++) pSum += Math.abs(got[i] - ref[i]);
      pCount += ref.length;
    }
  }
  row(`${name} params max abs (worst ${pWorst})`, pAbs, tol.param);
  checks.info(`${name} params mean abs / sum of lr (info)`, (pSum / Math.max(pCount, 1) / LR_SUM).toExponential(2));
  checks.info(`${name} params max rel (scale-relative, info)`, pRel.toExponential(2));
  row(`${name} AdamW moments max rel (worst ${mWorst})`, mRel, tol.moment);
}

// Σ lr over the steps run: AdamW moves a parameter by about lr per step whatever its gradient.
const LR_SUM = (() => {
  const settings = stepSettings();
  let t = 0;
  for (let i = 0; i <= STEPS; i++) t += settings(i).lr;
  return t;
})();
TOL_BF16.param = LR_SUM;

const t0 = performance.now();
const cpu = run('cpu');
console.log(`cpu: ${STEPS + 1} steps in ${(performance.now() - t0).toFixed(0)} ms; losses ${cpu.records.map((r) => r.loss.toFixed(6)).join(' ')}`);
row('cpu checkpoint round trip (values changed)', cpu.roundTrip, 0);

if (GPU) {
  const base = await settled();
  const t1 = performance.now();
  let gpu;
  try {
    gpu = run(GPU);
  } catch (e) {
    console.log(`${GPU}: the step failed: ${e.stack ?? e}`);
    process.exit(1);
  }
  console.log(`${GPU}: ${STEPS + 1} steps in ${(performance.now() - t1).toFixed(0)} ms; losses ${gpu.records.map((r) => r.loss.toFixed(6)).join(' ')}`);
  row(`parameters lived on ${GPU} (got ${gpu.onDevice})`, gpu.onDevice === GPU ? 0 : 1, 0);
  row(`${GPU} checkpoint round trip (values changed)`, gpu.roundTrip, 0);
  compare(cpu, gpu, GPU, TOL);
  const end = await settled();
  row(`${GPU} bytes left after dispose`, end.cudaBytes - base.cudaBytes, 0);

  // meta.dtype: bfloat16 (bf16 GEMM operands, fp32 everything else) on both devices.
  const cpu16 = run('cpu', 'bfloat16');
  const gpu16 = run(GPU, 'bfloat16');
  console.log(`bf16: losses cpu ${cpu16.records.map((r) => r.loss.toFixed(6)).join(' ')} | ${GPU} ${gpu16.records.map((r) => r.loss.toFixed(6)).join(' ')}`);
  compare(cpu16, gpu16, `${GPU} bf16`, TOL_BF16);
  checks.info(`${GPU} bf16 parameter bound: sum of lr over the steps`, LR_SUM.toExponential(2));
  const end16 = await settled();
  row(`${GPU} bytes left after the bf16 runs`, end16.cudaBytes - base.cudaBytes, 0);
}

// The trainer's upload-ahead pattern (lib/train/pretrain.ts): the tensors of step i+1 are
// allocated before step i and filled with writeAsync from its overlap hook (after the step's
// first kernels are queued), and freed after their own step. The clips change every step
// (swapped, scaled), so a copy that lands late or early shows. Against the same steps with
// synchronous uploads on the same device (exact on the CPU; on CUDA the atomics of
// scatterAddRows leave last-bit differences, so the fp32 tolerances apply).
function stepClips(i) {
  const x = st.get('x');
  const per = x.data.length / x.shape[0];
  const out = new Float32Array(x.data.length);
  for (let b = 0; b < x.shape[0]; b++) {
    const from = i % 2 ? x.shape[0] - 1 - b : b;
    for (let j = 0; j < per; j++) out[b * per + j] = x.data[from * per + j] * (1 + i / 8);
  }
  return out;
}

function runUploads(device, ahead) {
  const settings = stepSettings();
  const { model, opt } = build(device);
  // A step's tensors, allocated; fill() writes them (asynchronously when ahead).
  const alloc = (i) => {
    const host = [];
    const t = (data, shape, dtype) => {
      const x = Tensor.empty(shape, dtype, device);
      host.push([x, data]);
      return x;
    };
    const b = {
      clips: t(stepClips(i), st.get('x').shape, 'float32'),
      masks: [0, 1].map((m) => ({
        ctx: t(st.get(`mask.ctx_${m}`).data, st.get(`mask.ctx_${m}`).shape, 'int32'),
        tgt: t(st.get(`mask.tgt_${m}`).data, st.get(`mask.tgt_${m}`).shape, 'int32'),
      })),
    };
    b.fill = () => {
      for (const [x, data] of host.splice(0)) ahead ? x.writeAsync(data) : x.write(data);
    };
    return b;
  };
  const drop = (b) => [b.clips, ...b.masks.flatMap((m) => [m.ctx, m.tgt])].forEach((t) => t.dispose());
  const records = [];
  let cur = alloc(0);
  for (let i = 0; i < STEPS; i++) {
    cur.fill(); // a no-op when the previous step's overlap hook filled it
    const next = ahead && i + 1 < STEPS ? alloc(i + 1) : null;
    records.push(
      pretrainStep(model, opt, cur.clips, cur.masks, settings(i, { overlap: next ? () => next.fill() : undefined })),
    );
    drop(cur);
    cur = next ?? (i + 1 < STEPS ? alloc(i + 1) : null);
  }
  const after = snapshot(model, opt);
  model.dispose();
  opt.dispose();
  return { records, after };
}

{
  const dev = GPU ?? 'cpu';
  const exact = dev === 'cpu';
  const base = await settled();
  let sync, ahead;
  try {
    sync = runUploads(dev, false);
    ahead = runUploads(dev, true);
  } catch (e) {
    console.log(`${dev}: the upload-ahead steps failed: ${e.stack ?? e}`);
    process.exit(1);
  }
  const rel = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
  let lossRel = 0, normRel = 0, pAbs = 0;
  sync.records.forEach((r, i) => {
    const g = ahead.records[i];
    lossRel = Math.max(lossRel, rel(g.loss, r.loss), rel(g.lossJepa, r.lossJepa));
    normRel = Math.max(normRel, rel(g.encGradNorm, r.encGradNorm), rel(g.predGradNorm, r.predGradNorm));
  });
  for (const [k, ref] of sync.after) {
    const got = ahead.after.get(k);
    for (let i = 0; i < ref.length; i++) {
      const e = Math.abs(got[i] - ref[i]);
      if (!(e <= pAbs)) pAbs = Number.isNaN(e) ? Infinity : e;
    }
  }
  row(`${dev} upload-ahead vs sync uploads: loss rel over ${STEPS} steps`, lossRel, exact ? 0 : TOL.loss);
  row(`${dev} upload-ahead vs sync uploads: grad norm rel`, normRel, exact ? 0 : TOL.gradNorm);
  row(`${dev} upload-ahead vs sync uploads: params max abs`, pAbs, exact ? 0 : TOL.param);
  const end = await settled();
  row(`${dev} tensors left after the upload-ahead steps`, end.liveTensors - base.liveTensors, 0);
  if (GPU) row(`${dev} uploads left unjoined`, native.uploadStats(dev).pendingUploads, 0);
}

checks.print();
if (!GPU) {
  console.log('\nnote: only the CPU side ran; run test/gpu/run.sh on a CUDA machine for the comparison.');
  process.exit(checks.failures ? 1 : 0);
}
console.log(`\n${checks.gated - checks.failures}/${checks.gated} checks passed`);
process.exit(checks.failures ? 1 : 0);
