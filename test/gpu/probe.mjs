// Frozen-probe steps on CUDA against the CPU. A tiny frozen encoder and attentive classifier from
// fixed seeds, random clips; lib/probe/step.ts (the steps runProbe takes) with the probe's
// schedules on both devices: training steps on features the encoder computes on the device,
// one on host-cached features uploaded per batch, a probe checkpoint save and a resume onto
// the device, one more training step, then eval steps (2 segments × 2 views, identical views,
// and one call per view and segment). Live native bytes are checked after every step and after
// everything is disposed.
// Run: node test/gpu/probe.mjs   It imports the compiled dist/ (npm run build:ts); the addon is
// found as lib/native.ts finds it (VJEPA_ADDON overrides). VJEPA_GPU_DEVICE=cuda:N picks the GPU;
// VJEPA_GPU_DEVICE=cpu (or no usable GPU) runs the CPU on both sides: a self-check of this
// script, where every difference must be exactly 0.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Checks, settled as settledStats } from './checks.mjs';
import { compiled } from './dist.mjs';

const { lib, dist } = compiled(import.meta.url, 'lib/probe/step.js');
const { native } = await lib('native.js');
const { Tensor, tidy, memoryStats } = await lib('tensor.js');
const { AdamW } = await lib('optim/adamw.js');
const { WarmupCosineSchedule, CosineWDSchedule } = await lib('optim/schedules.js');
const { InitRng } = await lib('nn/init.js');
const { tinyEncoder } = await dist('test/probe/helpers.js');
const { AttentiveClassifier } = await lib('nn/pooler.js');
const { Rng } = await lib('util/rng.js');
const { encodeBatch } = await lib('probe/aggregate.js');
const { featuresTo, probeTrainStep, probeEvalStep } = await lib('probe/step.js');
const { classifierParamGroups, PROBE_FINAL_WD } = await lib('probe/probe.js');
const { saveProbeCheckpoint, loadProbeCheckpoint } = await lib('probe/checkpoint.js');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

// fp32 tolerances: loss per step (relative), logits and encoder features (relative to the
// block's max), classifier parameters after the steps (absolute), AdamW moments (relative to each
// tensor's max: the second moments of tiny gradients amplify rounding, as in step.mjs).
const TOL = { loss: 1e-4, logits: 1e-4, feats: 1e-4, param: 1e-4, moment: 1e-2 };

const info = native.cudaInfo();
if (info.emulated) console.log('CUDA backend: the CPU emulator (test/native/cuda_emu): logic only, not speed or hardware rounding');
const asked = process.env.VJEPA_GPU_DEVICE;
const DEV = asked ?? (info.available ? 'cuda:0' : 'cpu');
const selfCheck = DEV === 'cpu';
if (!info.available) console.log(`CUDA unavailable: ${info.reason}`);
if (selfCheck) console.log('self-check: the CPU on both sides (every difference must be 0)');

// Tiny shapes: 4 frames of 32×32, patch 8, tubelet 2 -> 32 tokens per clip; D=64, 4 heads.
const ENC = { embed_dim: 64, depth: 2, num_heads: 4, frames: 4, res: 32, patch: 8 };
const C = 5; // classes
const B = 4; // samples per batch
const S = 2; // segments (attend_across_segments for the training steps)
const TRAIN_STEPS = 3; // on encoder features, then 1 on cached features, checkpoint, 1 resumed
const LR = { lr: 1e-3, wd: 0.01, total: TRAIN_STEPS + 2 };
const SEED = 7;

function buildModels(device, classifierSeed = SEED + 1) {
  const encoder = tinyEncoder(ENC, SEED);
  encoder.setTrainable(false);
  const classifier = tidy(() => new AttentiveClassifier(ENC.embed_dim, ENC.num_heads, C, new InitRng(classifierSeed)));
  // As runProbe does: built on the host, moved before the optimizer exists.
  if (device !== 'cpu') {
    encoder.to(device);
    classifier.to(device);
  }
  return { encoder, classifier, opt: new AdamW(classifierParamGroups(classifier)) };
}

// Host batches, the same on both sides: clips [S·V·B, 3, T, H, W] and labels [B].
function clipBatch(key, V, sameViews = false) {
  const rng = new Rng(SEED, 0x636c6970, key);
  const per = 3 * ENC.frames * ENC.res * ENC.res;
  const clips = new Float32Array(S * V * B * per);
  for (let s = 0; s < S; s++)
    for (let v = 0; v < V; v++) {
      const o = (s * V + v) * B * per;
      if (sameViews && v > 0) clips.copyWithin(o, s * V * B * per, (s * V + 1) * B * per);
      else for (let i = 0; i < B * per; i++) clips[o + i] = rng.normal();
    }
  const labels = Int32Array.from({ length: B }, () => rng.randint(0, C - 1));
  return { clips, clipShape: [S * V * B, 3, ENC.frames, ENC.res, ENC.res], layout: { S, V, B }, labels };
}

const live = (device) => {
  const m = memoryStats();
  return { tensors: m.liveTensors, bytes: device === 'cpu' ? m.cpuBytes : m.cudaBytes, cpuBytes: m.cpuBytes };
};

function snapshot(classifier, opt) {
  const out = new Map();
  for (const [n, p] of classifier.namedParameters()) out.set(`classifier.${n}`, p.tensor.toFloat32Array());
  for (const [n, s] of opt.state()) {
    out.set(`opt.m.${n}`, s.m.toFloat32Array());
    out.set(`opt.v.${n}`, s.v.toFloat32Array());
    out.set(`opt.step.${n}`, new Float32Array([s.step]));
  }
  return out;
}

function run(device) {
  let { encoder, classifier, opt } = buildModels(device);
  const encBefore = encoder.namedParameters().map(([, p]) => p.tensor.toFloat32Array());
  const lrS = new WarmupCosineSchedule({ startLr: LR.lr, refLr: LR.lr, finalLr: 0, warmupSteps: 0, totalSteps: LR.total });
  const wdS = new CosineWDSchedule({ refWd: LR.wd, finalWd: PROBE_FINAL_WD, totalSteps: LR.total });
  const train = { attendAcrossSegments: true, numClasses: C };
  const records = [];
  const memory = []; // live tensors / bytes after each training step
  const trainOn = (feats, b) => {
    const rec = probeTrainStep(classifier, opt, { feats, layout: b.layout, labels: b.labels }, { ...train, lr: lrS.step(), wd: wdS.step() });
    records.push({ what: `train ${records.length}`, ...rec });
  };
  // Features recomputed every step: one upload of the clips, the encoder on the device.
  for (let k = 0; k < TRAIN_STEPS; k++) {
    const b = clipBatch(k, 1);
    tidy(() => trainOn(encodeBatch(encoder, b.clips, b.clipShape, b.layout), b));
    memory.push(live(device));
  }
  // Cached features: computed on the device, kept on the host, uploaded for the step.
  const cb = clipBatch(100, 1);
  const cached = tidy(() => encodeBatch(encoder, cb.clips, cb.clipShape, cb.layout).toFloat32Array());
  const N = cached.length / (S * B * ENC.embed_dim);
  tidy(() => trainOn(featuresTo(cached, cb.layout, N, ENC.embed_dim, device), cb));
  memory.push(live(device));

  // Checkpoint, then a fresh classifier (other init) and optimizer on the device, loaded from it.
  const before = snapshot(classifier, opt);
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-gpu-probe-'));
  const path = join(dir, 'probe.safetensors');
  saveProbeCheckpoint(path, classifier, opt, { epoch: 1, lrStep: lrS.stepCount, wdStep: wdS.stepCount, batchSize: B, worldSize: 1, lr: LR.lr, trainTop1: 0, valTop1: 0, config: {} });
  classifier.dispose();
  opt.dispose();
  classifier = tidy(() => new AttentiveClassifier(ENC.embed_dim, ENC.num_heads, C, new InitRng(SEED + 99)));
  if (device !== 'cpu') classifier.to(device);
  opt = new AdamW(classifierParamGroups(classifier));
  const state = loadProbeCheckpoint(path, classifier, opt);
  rmSync(dir, { recursive: true, force: true });
  const reloaded = snapshot(classifier, opt);
  let roundTrip = 0; // save -> load must be exact on every device
  for (const [k, v] of before) {
    const r = reloaded.get(k);
    if (!r) {
      roundTrip += v.length;
      continue;
    }
    for (let i = 0; i < v.length; i++) if (!Object.is(v[i], r[i])) roundTrip++;
  }
  if (state.lrStep !== lrS.stepCount) roundTrip++;

  const rb = clipBatch(200, 1);
  tidy(() => trainOn(encodeBatch(encoder, rb.clips, rb.clipShape, rb.layout), rb));
  records[records.length - 1].what += ' (resumed)';
  memory.push(live(device));

  // Eval: 2 segments × 2 distinct views, identical views (encoded once), one call per (view, segment).
  for (const [what, V, same, attend] of [['eval S2×V2', 2, false, true], ['eval S2×V2 same views', 2, true, true], ['eval per-segment calls', 2, false, false]]) {
    const b = clipBatch(300 + records.length, V, same);
    const rec = tidy(() => probeEvalStep(classifier, { feats: encodeBatch(encoder, b.clips, b.clipShape, b.layout), layout: b.layout, labels: b.labels }, { attendAcrossSegments: attend, numClasses: C }));
    records.push({ what, ...rec });
  }
  const after = snapshot(classifier, opt);
  const encChanged = encoder.namedParameters().reduce((n, [, p], i) => n + (Buffer.compare(Buffer.from(p.tensor.toFloat32Array().buffer), Buffer.from(encBefore[i].buffer)) ? 1 : 0), 0);
  // Every classifier tensor must have moved away from its init, or equal results would prove little;
  // but for xattn.proj, which the original (and so we) never applies (MOD-13).
  const fresh = tidy(() => new AttentiveClassifier(ENC.embed_dim, ENC.num_heads, C, new InitRng(SEED + 1)));
  const untrained = fresh.namedParameters().filter(([n, p]) => !n.includes('.xattn.proj.') &&
    Buffer.from(p.tensor.toFloat32Array().buffer).equals(Buffer.from(after.get(`classifier.${n}`).buffer))).length;
  fresh.dispose();
  const onDevice = [classifier.linear.weight.device, encoder.posEmbed.device, [...opt.state().values()][0].m.device];
  encoder.dispose();
  classifier.dispose();
  opt.dispose();
  return { records, memory, after, roundTrip, onDevice, encChanged, untrained, cached };
}

const settled = () => settledStats(gc, memoryStats);
const checks = new Checks();
const row = (name, value, tol) => checks.row(name, value, tol);
const tol = (t) => (selfCheck ? 0 : t);
const rel = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
const blockRel = (got, ref) => {
  if (got.length !== ref.length) return Infinity;
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i] - ref[i]);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : e;
    m = Math.max(m, Math.abs(ref[i]));
  }
  return { abs: d, rel: d / Math.max(m, 1e-30) };
};

// Live memory: the same after every training step (AdamW state exists from the first; the resumed
// model has the same sizes), and back to the start once everything is disposed, without the GC.
function memoryRows(side, device, r, base, end) {
  const m0 = r.memory[0];
  const growth = Math.max(...r.memory.map((m) => Math.abs(m.tensors - m0.tensors) + Math.abs(m.bytes - m0.bytes) + Math.abs(m.cpuBytes - m0.cpuBytes)));
  row(`${side}: live tensors + bytes change across the ${r.memory.length} training steps`, growth, 0);
  row(`${side}: ${device} bytes left after dispose (no GC)`, Math.abs(end.bytes - base.bytes) + Math.abs(end.tensors - base.tensors), 0);
}

const cpuBase = live('cpu');
const t0 = performance.now();
const cpu = run('cpu');
const cpuEnd = live('cpu');
console.log(`cpu: ${cpu.records.length} steps in ${(performance.now() - t0).toFixed(0)} ms; losses ${cpu.records.map((r) => r.loss.toFixed(6)).join(' ')}`);
row('cpu checkpoint round trip (values changed)', cpu.roundTrip, 0);
row('cpu encoder tensors changed (frozen)', cpu.encChanged, 0);
row('cpu classifier tensors still at their init (trained)', cpu.untrained, 0);
memoryRows('cpu', 'cpu', cpu, cpuBase, cpuEnd);

await settled();
const devBase = live(DEV);
const t1 = performance.now();
let dev;
try {
  dev = run(DEV);
} catch (e) {
  console.log(`${DEV}: the probe steps failed: ${e.stack ?? e}`);
  process.exit(1);
}
const devEnd = live(DEV);
console.log(`${DEV}: ${dev.records.length} steps in ${(performance.now() - t1).toFixed(0)} ms; losses ${dev.records.map((r) => r.loss.toFixed(6)).join(' ')}`);
row(`classifier, encoder, AdamW state lived on ${DEV} (got ${dev.onDevice.join(', ')})`, dev.onDevice.every((d) => d === DEV) ? 0 : 1, 0);
row(`${DEV} checkpoint round trip (values changed)`, dev.roundTrip, 0);
row(`${DEV} encoder tensors changed (frozen)`, dev.encChanged, 0);
memoryRows(DEV === 'cpu' ? 'second cpu run' : DEV, DEV, dev, devBase, devEnd);

row('cached features (host copy) max rel', blockRel(dev.cached, cpu.cached).rel, tol(TOL.feats));
for (let i = 0; i < cpu.records.length; i++) {
  const c = cpu.records[i], g = dev.records[i];
  row(`${c.what}: loss rel`, rel(g.loss, c.loss), tol(TOL.loss));
  row(`${c.what}: logits max rel`, blockRel(g.logits, c.logits).rel, tol(TOL.logits));
  row(`${c.what}: correct (cpu ${c.correct}, ${DEV} ${g.correct})`, Math.abs(g.correct - c.correct), 0);
}
let pAbs = 0, pWorst = '-', mRel = 0, mWorst = '-';
for (const [k, ref] of cpu.after) {
  const got = dev.after.get(k);
  if (!got) {
    row(`${k} missing on ${DEV}`, Infinity, 0);
    continue;
  }
  const d = blockRel(got, ref);
  if (k.startsWith('opt.')) {
    if (!(d.rel <= mRel)) [mRel, mWorst] = [d.rel, k];
  } else if (!(d.abs <= pAbs)) [pAbs, pWorst] = [d.abs, k];
}
row(`classifier params max abs (worst ${pWorst})`, pAbs, tol(TOL.param));
row(`AdamW moments max rel (worst ${mWorst})`, mRel, tol(TOL.moment));
const end = await settled();
row(`${DEV} bytes left after GC`, Math.abs((DEV === 'cpu' ? end.cpuBytes : end.cudaBytes) - devBase.bytes), 0);

checks.print();
console.log(`\n${checks.gated - checks.failures}/${checks.gated} checks passed`);
if (selfCheck) console.log('note: the CPU ran on both sides; run test/gpu/run.sh on a CUDA machine for the comparison.');
process.exit(checks.failures ? 1 : 0);
