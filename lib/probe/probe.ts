// The frozen-evaluation loop (EVAL-01..07): frozen encoder -> clip aggregation -> attentive
// classifier, AdamW with warmup-cosine lr and cosine wd, per-epoch CSV / curves / checkpoint,
// resume, and a results JSON. With optimization.cache_features the encoder runs once per video.
// scoreProbe runs the same validation pass once on a saved probe (ours or the original's .pth.tar).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { native } from '../native.js';
import { tidy } from '../tensor.js';
import { IMAGE_EVAL, VIDEO_EVAL, type ProbeConfig, type VideoProbeData } from '../config/probe.js';
import { AttentiveClassifier } from '../nn/pooler.js';
import { InitRng } from '../nn/init.js';
import type { VisionTransformer } from '../nn/vit.js';
import { AdamW, splitByDecay, type ParamGroup } from '../optim/adamw.js';
import { CosineWDSchedule, WarmupCosineSchedule, scheduleSteps } from '../optim/schedules.js';
import { describeDevice, selectDevice } from '../device.js';
import { encoderAttention, tuneRunAttention } from '../ops/attention-tuning.js';
import { formatMemory } from '../train/log.js';
import type { ProbeExtensions } from './config.js';
import { buildFrozenEncoder } from './encoder.js';
import { encodeBatch } from './aggregate.js';
import { imageSource, resolveVideoSplits, splitSize, videoSource, type BatchSource, type ClipBatch, type ProbeSplits } from './data.js';
import { computeFeatures, SampleTable, type FeatureBatch, type FeatureSet } from './features.js';
import { featuresTo, probeEvalStep, probeTrainStep, type FeatureInput, type ProbeStepRecord, type ProbeStepSettings } from './step.js';
import { applyProbeCheckpoint, loadProbeCheckpoint, readProbeCheckpoint, saveProbeCheckpoint, type ProbeCheckpointFile, type ProbeState } from './checkpoint.js';
import { ProbeCsv, writeProbePlot } from './log.js';
import { Predictions, type ClassTally } from './predictions.js';
import { assertBf16Device, autocast, CastPlan, cpuBf16Pays, type MatmulDtype } from '../ops/autocast.js';

/** EVAL-05: the final weight decay is fixed in the original's code, not a config key. */
export const PROBE_FINAL_WD = 1e-6;
export { PROBE_CLIP_GRAD } from './step.js';

/** With optimization.cache_features the val features are computed once, with the clip draw of epoch 0. */
export const VAL_CACHE_DRAW_EPOCH = 0;

export interface ProbeOptions {
  log?: (line: string) => void;
  /** stop after this many epochs in this process (tests; the run stays resumable) */
  maxEpochs?: number;
  /** replace a probe run already in the folder when not resuming (vjepa-probe --overwrite) */
  overwrite?: boolean;
  /** called with the frozen encoder right after loading, and with both models before they are freed (tests) */
  inspect?: { loaded?: (encoder: VisionTransformer) => void; finished?: (encoder: VisionTransformer, classifier: AttentiveClassifier) => void };
}

/** What a training run's and a scoring run's results JSON both say. */
interface ProbeRunFields {
  val_top1: number;
  val_top1_batch_mean: number;
  val_loss: number;
  eval_name: string;
  tag: string | null;
  encoder_checkpoint: string | null;
  random_init: boolean;
  cache_features: boolean;
  seconds: number;
  folder: string;
  results: string;
}

export interface ProbeResult extends ProbeRunFields {
  train_top1: number;
  epochs: number;
  train_loss: number;
  feature_seconds: number;
  csv: string;
  plot: string;
  checkpoint: string;
  /** set when maxEpochs stopped the run early */
  stopped_early?: boolean;
  /** files that could not be loaded and were replaced by others (DATA-02), by split */
  unloadable: { train: string[]; val: string[] };
}

export interface ProbePaths {
  folder: string;
  csv: string;
  plot: string;
  /** ours, written every epoch */
  checkpoint: string;
  /** the original's `<write_tag>-latest.pth.tar`: resumed from (and scored) when ours is absent */
  original: string;
  results: string;
  /** scoreProbe's results, next to the training run's */
  evalResults: string;
  /** scoreProbe's per-sample predictions */
  evalPredictions: string;
  tag: string | null;
}

/** EVAL-01: `<pretrain.folder>/<eval_name>/<tag>/`; the random-init baseline gets its own tag. */
export function probePaths(cfg: ProbeConfig): ProbePaths {
  let tag = cfg.tag;
  if (cfg.pretrain.checkpoint === null) tag = `${tag ?? 'probe'}-random-init`;
  const folder = resolve(join(cfg.pretrain.folder, cfg.eval_name, tag ?? ''));
  const w = cfg.pretrain.write_tag ?? 'jepa';
  return {
    folder,
    tag,
    csv: join(folder, `${w}_r0.csv`),
    plot: join(folder, `${w}-curves.png`),
    checkpoint: join(folder, `${w}-latest.safetensors`),
    original: join(folder, `${w}-latest.pth.tar`),
    results: join(folder, `${tag ?? w}-results.json`),
    evalResults: join(folder, `${tag ?? w}-eval-results.json`),
    evalPredictions: join(folder, `${tag ?? w}-eval-predictions.csv`),
  };
}

/** The run folder's latest probe checkpoint: ours, else the original's .pth.tar, else null. */
export function latestProbeCheckpoint(paths: ProbePaths): string | null {
  return existsSync(paths.checkpoint) ? paths.checkpoint : existsSync(paths.original) ? paths.original : null;
}

/** EVAL-05: weights (and the query token) decay; biases and 1-D parameters do not. */
export function classifierParamGroups(c: AttentiveClassifier): ParamGroup[] {
  const [decay, noDecay] = splitByDecay(c.trainableParameters());
  return [
    { name: 'decay', params: decay, wdExcluded: false },
    { name: 'no_decay', params: noDecay, wdExcluded: true },
  ];
}

interface Tally {
  lossSum: number;
  calls: number;
  correct: number;
  seen: number;
  batchTop1Sum: number;
  batches: number;
}
const newTally = (): Tally => ({ lossSum: 0, calls: 0, correct: 0, seen: 0, batchTop1Sum: 0, batches: 0 });
const count = (t: Tally, r: ProbeStepRecord, B: number) => {
  t.lossSum += r.loss * B;
  t.calls += B;
  t.correct += r.correct;
  t.seen += B;
  t.batchTop1Sum += (100 * r.correct) / B;
  t.batches += 1;
};
const top1 = (t: Tally) => (100 * t.correct) / t.seen;
const meanLoss = (t: Tally) => t.lossSum / t.calls;

/** What training and scoring share: the device, the frozen encoder on it, the data splits and the val protocol. */
interface ProbeSession {
  cfg: ProbeConfig;
  ext: ProbeExtensions;
  log: (s: string) => void;
  device: string;
  matmulDtype: MatmulDtype;
  video: boolean;
  encoder: VisionTransformer;
  /** the encoder's weights file; null for the random-init baseline */
  encoderCheckpoint: string | null;
  D: number;
  splits: ProbeSplits | null;
  /** EVAL-03: val takes num_segments segments × num_views_per_segment views (1 × 1 for images) */
  valSegments: number;
  valViews: number;
  settings: ProbeStepSettings;
  /** DATA-02 replaces what cannot be loaded: the sources note every such file, the end of the run names them */
  unloadable: { train: Set<string>; val: Set<string> };
  /** the frozen encoder's bf16 weights, rounded together per batch after the first (ops/autocast.ts) */
  castPlan: CastPlan;
}

/** The device and precision of a run (before any output or model exists: a missing GPU stops here). */
function selectRunDevice(cfg: ProbeConfig, log: (s: string) => void): { device: string; matmulDtype: MatmulDtype; video: boolean } {
  const device = selectDevice(cfg.meta.device, { cudaSupported: true });
  if (cfg.meta.threads) native.setNumThreads(cfg.meta.threads);
  // EVAL-05 autocasts to fp16 with a loss scaler; bf16 needs no scaler. The original's autocast
  // is CUDA's, so its CPU runs are fp32: here a CPU with AVX512-BF16, where bf16 GEMMs run at twice
  // fp32's rate, takes the request too, and other CPUs keep fp32 (bf16 would be no faster there).
  const isa = native.isa().active;
  const bf16 = cfg.optimization.use_bfloat16 && (device !== 'cpu' || cpuBf16Pays(isa));
  const matmulDtype: MatmulDtype = bf16 ? 'bfloat16' : 'float32';
  if (device !== 'cpu') log(`device: ${describeDevice(device)}`);
  if (matmulDtype === 'bfloat16') assertBf16Device(device, 'optimization.use_bfloat16', 'set it to false');
  if (cfg.optimization.use_bfloat16)
    log(
      !bf16
        ? `optimization.use_bfloat16: ignored on this CPU (${isa}, no AVX512-BF16: bf16 would be no faster), which runs fp32`
        : device === 'cpu'
          ? 'optimization.use_bfloat16: bf16 mixed precision on the CPU (AVX512-BF16) for the encoder\'s and the classifier\'s GEMMs, attention in fp32 (the original autocasts to fp16 on CUDA only)'
          : `optimization.use_bfloat16: bf16 mixed precision on ${device} for the encoder and the classifier (the original autocasts to fp16 with a loss scaler)`,
    );
  const video = cfg.eval_name === VIDEO_EVAL;
  if (!video && cfg.eval_name !== IMAGE_EVAL) throw new Error(`eval_name: unknown protocol ${cfg.eval_name}`);
  return { device, matmulDtype, video };
}

/** The attentive classifier, seeded init (meta.seed + 1), on `device`. */
function newClassifier(cfg: ProbeConfig, encoder: VisionTransformer, device: string): AttentiveClassifier {
  // tidy frees the init temporaries the constructor leaves behind (the parameters are kept).
  const c = tidy(() => new AttentiveClassifier(encoder.cfg.embedDim, encoder.cfg.numHeads, cfg.data.num_classes, new InitRng(cfg.meta.seed + 1)));
  if (device !== 'cpu') c.to(device);
  return c;
}

async function openSession(
  cfg: ProbeConfig,
  ext: ProbeExtensions,
  log: (s: string) => void,
  run: { device: string; matmulDtype: MatmulDtype; video: boolean },
  encoder: VisionTransformer,
  encoderCheckpoint: string | null,
  needTrain: boolean,
): Promise<ProbeSession> {
  const vd = run.video ? (cfg.data as VideoProbeData) : null;
  return {
    cfg,
    ext,
    log,
    ...run,
    encoder,
    encoderCheckpoint,
    D: encoder.cfg.embedDim,
    splits: vd ? await resolveVideoSplits(vd, log, needTrain ? ['train', 'val'] : ['val']) : null,
    valSegments: vd ? vd.num_segments : 1,
    valViews: vd ? vd.num_views_per_segment : 1,
    settings: { attendAcrossSegments: cfg.optimization.attend_across_segments, numClasses: cfg.data.num_classes, matmulDtype: run.matmulDtype },
    unloadable: { train: new Set<string>(), val: new Set<string>() },
    castPlan: new CastPlan(),
  };
}

function noting(src: BatchSource, into: Set<string>): BatchSource {
  return {
    ...src,
    close: async () => {
      for (const p of src.failedPaths()) into.add(p);
      await src.close();
    },
  };
}

/** The val split, one pass, with the clip draw of `epoch` (seed meta.seed + 1000 + epoch). */
function valSource(s: ProbeSession, epoch: number): BatchSource {
  const { cfg, log } = s;
  const B = cfg.optimization.batch_size;
  const seed = cfg.meta.seed + 1000 + epoch;
  const src = s.video
    ? videoSource(cfg, { csv: s.splits!.valCsv, training: false, evalTransform: true, numSegments: s.valSegments, numViews: s.valViews, batchSize: B, seed, passes: 1, log })
    : imageSource(cfg, { split: 'val', training: false, evalTransform: true, batchSize: B, seed, passes: 1, log });
  return noting(src, s.unloadable.val);
}

/** One batch of clips through the frozen encoder: one host-to-device copy; labels go with the loss. */
function clipInput(s: ProbeSession, b: ClipBatch): FeatureInput {
  return { feats: autocast(s.matmulDtype, () => encodeBatch(s.encoder, b.clips, b.clipShape, b.layout, s.ext.encoderBatch), s.castPlan), layout: b.layout, labels: b.labels, paths: b.paths };
}

/** A cached feature block, copied to the classifier's device. */
function hostInput(s: ProbeSession, fb: FeatureBatch, N: number): FeatureInput {
  return { feats: featuresTo(fb.feats, fb.layout, N, s.D, s.device), layout: fb.layout, labels: fb.labels, paths: fb.paths };
}

/** The val features for optimization.cache_features (the draw of VAL_CACHE_DRAW_EPOCH), kept on the host. */
async function cacheValFeatures(s: ProbeSession, progress?: (k: number, n: number) => void): Promise<FeatureSet> {
  const src = valSource(s, VAL_CACHE_DRAW_EPOCH);
  try {
    return await computeFeatures(s.encoder, src, s.ext.encoderBatch, progress, s.matmulDtype);
  } finally {
    await src.close();
  }
}

/** One validation pass (EVAL-04): from the val cache when there is one, else the loader with the draw of `epoch`. */
async function validate(s: ProbeSession, classifier: AttentiveClassifier, valCache: FeatureSet | null, epoch: number, predictions?: Predictions): Promise<Tally> {
  const val = newTally();
  const evalOn = (x: FeatureInput) => {
    const r = probeEvalStep(classifier, x, s.settings);
    count(val, r, x.layout.B);
    predictions?.add(r.logits, x.labels, x.paths);
  };
  if (valCache) {
    for (const fb of valCache.batches) tidy(() => evalOn(hostInput(s, fb, valCache.N)));
    return val;
  }
  const src = valSource(s, epoch);
  try {
    for await (const b of src.iterate()) tidy(() => evalOn(clipInput(s, b)));
  } finally {
    await src.close();
  }
  return val;
}

function warnUnloadable(log: (s: string) => void, unloadable: { train?: string[]; val: string[] }): void {
  for (const split of ['train', 'val'] as const) {
    const bad = unloadable[split] ?? [];
    if (bad.length > 0)
      log(
        `warning: ${bad.length} ${split} file${bad.length > 1 ? 's' : ''} could not be loaded and ${bad.length > 1 ? 'were' : 'was'} replaced by others (DATA-02)` +
          `${split === 'val' ? ', so val top-1 is over a different set' : ''}: ${bad.slice(0, 3).join(', ')}${bad.length > 3 ? ', …' : ''}`,
      );
  }
}

/** What the feature cache will hold (README: videos × segments × views × N × D × 4 bytes). */
export interface FeatureCacheSize {
  trainSamples: number;
  trainSegments: number;
  valSamples: number;
  valSegments: number;
  valViews: number;
  /** tokens per clip and their width */
  N: number;
  D: number;
}

/** This process's memory: the machine's, or a container's cgroup limit when lower (totalmem ignores it). */
export function memoryLimit(): number {
  let limit = totalmem();
  try {
    const v = readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim();
    if (/^\d+$/.test(v)) limit = Math.min(limit, Number(v));
  } catch {
    // no cgroup v2 limit
  }
  return limit;
}

/**
 * cache_features holds every video's tokens on the host: a split too large for this machine is
 * refused before hours of encoding end in an out-of-memory kill.
 */
export function checkFeatureCacheFits(c: FeatureCacheSize, limit = memoryLimit()): void {
  const bytes = (c.trainSamples * c.trainSegments + c.valSamples * c.valSegments * c.valViews) * c.N * c.D * 4;
  if (bytes <= 0.75 * limit) return;
  const gib = (b: number) => (b / 2 ** 30).toFixed(1);
  throw new Error(
    `optimization.cache_features: the cached features would take ${gib(bytes)} GiB ` +
      `(${c.trainSamples} train × ${c.trainSegments} segments + ${c.valSamples} val × ${c.valSegments} × ${c.valViews} views, ` +
      `${c.N} tokens × ${c.D} floats each) and this process has ${gib(limit)} GiB of memory; ` +
      'set optimization.cache_features: false (the encoder then runs on every batch) or probe a smaller split',
  );
}

function featureProgress(log: (s: string) => void, t0: number) {
  return (what: string) => (k: number, n: number) => {
    if (k === n || k % 8 === 0) log(`features: ${what} ${k}/${n} batches (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  };
}

export async function runProbe(cfg: ProbeConfig, ext: ProbeExtensions, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const t0 = performance.now();
  const run = selectRunDevice(cfg, log);
  const paths = probePaths(cfg);
  // As vjepa-train: a finished or stopped run is not replaced unless asked (the original writes over it).
  if (!cfg.resume_checkpoint && !opts.overwrite) {
    const held = [paths.checkpoint, paths.original, paths.csv].filter((f) => existsSync(f));
    if (held.length)
      throw new Error(
        `${paths.folder} already holds a probe run (${held.map((f) => basename(f)).join(', ')}). ` +
          'Resume it with --set resume_checkpoint=true, replace it with --overwrite, or give it another --set tag=...',
      );
  }

  // Both models are built (seeded init, weights loaded) on the host, then moved; AdamW's state is
  // created next to each parameter, so it lands on the device too.
  const { encoder, checkpoint: encCkpt } = buildFrozenEncoder(cfg, log);
  // Only once the encoder has loaded: a missing or bad checkpoint leaves no run folder behind.
  mkdirSync(paths.folder, { recursive: true });
  writeFileSync(join(paths.folder, 'params-probe.yaml'), stringify({ ...cfg, extensions: ext }));
  let classifier: AttentiveClassifier | null = null;
  let opt: AdamW | null = null;
  try {
    if (run.device !== 'cpu') encoder.to(run.device);
    // The frozen encoder's shape decides (the pooler's few queries share its head_dim's choice).
    tuneRunAttention(run.device, run.matmulDtype, [encoderAttention(encoder, cfg.optimization.batch_size)], log);
    opts.inspect?.loaded?.(encoder);
    classifier = newClassifier(cfg, encoder, run.device);
    opt = new AdamW(classifierParamGroups(classifier));
    const session = await openSession(cfg, ext, log, run, encoder, encCkpt, true);
    const result = await train(session, classifier, opt, paths, opts.maxEpochs, t0);
    opts.inspect?.finished?.(encoder, classifier);
    return result;
  } finally {
    classifier?.dispose();
    encoder.dispose();
    opt?.dispose();
  }
}

async function train(s: ProbeSession, classifier: AttentiveClassifier, opt: AdamW, paths: ProbePaths, maxEpochs: number | undefined, t0: number): Promise<ProbeResult> {
  const { cfg, ext, log, device, encoder, D } = s;
  const B = cfg.optimization.batch_size;
  const seed = cfg.meta.seed;
  // EVAL-03: train on num_segments segments only when attending across them; always 1 view.
  const trainSegments = s.video && s.settings.attendAcrossSegments ? (cfg.data as VideoProbeData).num_segments : 1;
  const makeTrain = (cache: boolean, startBatch: number): BatchSource =>
    noting(
      s.video
        ? videoSource(cfg, { csv: s.splits!.trainCsv, training: !cache, evalTransform: cache, numSegments: trainSegments, numViews: 1, batchSize: B, seed, startBatch, passes: cache ? 1 : undefined, log })
        : imageSource(cfg, { split: 'train', training: !cache, evalTransform: cache, batchSize: B, seed, startBatch, passes: cache ? 1 : undefined, log }),
      s.unloadable.train,
    );

  // Feature cache: both splits once (val with the epoch-0 clip draw), kept on the host.
  let trainTable: SampleTable | null = null;
  let valCache: FeatureSet | null = null;
  let featureSeconds = 0;
  if (ext.cacheFeatures) {
    const tf = performance.now();
    const progress = featureProgress(log, tf);
    const trainSrc = makeTrain(true, 0);
    try {
      checkFeatureCacheFits({
        trainSamples: trainSrc.numSamples, trainSegments, valSamples: splitSize(cfg, s.splits, 'val'),
        valSegments: s.valSegments, valViews: s.valViews, N: tokensPerClip(cfg, encoder), D,
      });
      trainTable = new SampleTable(await computeFeatures(encoder, trainSrc, ext.encoderBatch, progress('train'), s.matmulDtype));
    } finally {
      await trainSrc.close();
    }
    valCache = await cacheValFeatures(s, progress('val'));
    featureSeconds = (performance.now() - tf) / 1000;
    log(`features: cached ${trainTable.length} train + ${valCache.numSamples} val videos ([${trainTable.S}×${trainTable.set.N}, ${D}] per train video) in ${featureSeconds.toFixed(1)} s`);
  }

  let trainSrc: BatchSource | null = null;
  const ipe = trainTable ? trainTable.batchesPerEpoch(B) : (trainSrc = makeTrain(false, 0)).length;
  if (ipe < 1) throw new Error(`probe: the training split has no samples`);
  const epochs = cfg.optimization.num_epochs;
  const { warmup, total } = scheduleSteps({ warmupEpochs: cfg.optimization.warmup, epochs, ipe });
  const lrSched = new WarmupCosineSchedule({ startLr: cfg.optimization.start_lr, refLr: cfg.optimization.lr, finalLr: cfg.optimization.final_lr, warmupSteps: warmup, totalSteps: total });
  const wdSched = new CosineWDSchedule({ refWd: cfg.optimization.weight_decay, finalWd: PROBE_FINAL_WD, totalSteps: total });

  let startEpoch = 0;
  const resumeFrom = cfg.resume_checkpoint ? latestProbeCheckpoint(paths) : null;
  if (resumeFrom) {
    if (resumeFrom === paths.original) log(`resume: no ${basename(paths.checkpoint)} in ${paths.folder}; taking the original's ${basename(paths.original)}`);
    // Host tensors from the file are written into the classifier and AdamW state where they live.
    const st = loadProbeCheckpoint(resumeFrom, classifier, opt, ipe);
    startEpoch = st.epoch;
    // EVAL-06: fast-forward both schedules by start_epoch · ipe.
    lrSched.skip(startEpoch * ipe);
    wdSched.skip(startEpoch * ipe);
    log(`resume: ${resumeFrom} after epoch ${startEpoch}`);
    if (st.format === 'torch') log(`resume: from the original's probe checkpoint: ${st.notes.join('; ')}; this run saves to ${basename(paths.checkpoint)}`);
  } else if (cfg.resume_checkpoint) {
    log(`resume: no checkpoint at ${paths.checkpoint} (nor the original's ${basename(paths.original)}); starting fresh`);
  }
  if (trainSrc && startEpoch > 0) {
    await trainSrc.close();
    trainSrc = makeTrain(false, startEpoch * ipe);
  }

  const csv = new ProbeCsv(paths.csv);
  csv.open(startEpoch);
  log(
    `probe: ${cfg.eval_name} ${paths.tag ?? ''} | encoder ${cfg.pretrain.model_name} D=${D} ${tokensPerClip(cfg, encoder)} tokens/clip, ${s.encoderCheckpoint ?? 'RANDOM INIT'} | ` +
      `classifier ${(classifier.numParameters() / 1e6).toFixed(3)}M params | ${epochs} epochs × ${ipe} it, batch ${B} | ` +
      (s.video ? `train ${trainSegments} seg × 1 view, ${valProtocol(s)} | ` : '') +
      `features ${ext.cacheFeatures ? 'cached' : 'recomputed every step'} | device ${device} | threads ${native.numThreads()}`,
  );

  const trainOn = (x: FeatureInput, t: Tally) => {
    const lr = lrSched.step();
    const wd = wdSched.step();
    count(t, probeTrainStep(classifier, opt, x, { ...s.settings, lr, wd }), x.layout.B);
  };

  const stopAt = Math.min(epochs, startEpoch + (maxEpochs ?? Infinity));
  const trainIter = trainSrc?.iterate();
  let last = { train: newTally(), val: newTally() };
  try {
    for (let epoch = startEpoch; epoch < stopAt; epoch++) {
      const te = performance.now();
      const tally = newTally();
      if (trainTable) {
        const order = trainTable.order(seed, epoch);
        for (let k = 0; k < ipe; k++) {
          const fb = trainTable.gather(order.subarray(k * B, (k + 1) * B));
          tidy(() => trainOn(hostInput(s, fb, trainTable!.set.N), tally));
        }
      } else {
        for (let k = 0; k < ipe; k++) {
          const next = await trainIter!.next();
          if (next.done) throw new Error('probe: training loader ended unexpectedly');
          const b = next.value;
          tidy(() => trainOn(clipInput(s, b), tally));
          if (k % 20 === 0) log(`[${epoch + 1}, ${String(k).padStart(4)}] train top-1 ${top1(tally).toFixed(2)}% loss ${meanLoss(tally).toFixed(4)}`);
        }
      }
      const val = await validate(s, classifier, valCache, epoch);
      last = { train: tally, val };
      const rec = {
        epoch: epoch + 1,
        trainLoss: meanLoss(tally),
        trainTop1: top1(tally),
        valLoss: meanLoss(val),
        valTop1: top1(val),
        valTop1BatchMean: val.batchTop1Sum / val.batches,
        lr: lrSched.value,
        wd: wdSched.value,
        seconds: (performance.now() - te) / 1000,
      };
      csv.append(rec);
      const state: ProbeState = { epoch: epoch + 1, lrStep: lrSched.stepCount, wdStep: wdSched.stepCount, batchSize: B, worldSize: 1, lr: cfg.optimization.lr, trainTop1: rec.trainTop1, valTop1: rec.valTop1, config: cfg };
      // Written from host copies of the classifier and AdamW state, wherever they live.
      saveProbeCheckpoint(paths.checkpoint, classifier, opt, state);
      writeProbePlot(paths.plot, csv.read());
      log(
        `epoch ${epoch + 1}/${epochs}: train top-1 ${rec.trainTop1.toFixed(2)}% loss ${rec.trainLoss.toFixed(4)} | ` +
          `val top-1 ${rec.valTop1.toFixed(2)}% loss ${rec.valLoss.toFixed(4)} | lr ${rec.lr.toExponential(2)} wd ${rec.wd.toExponential(2)} | ${rec.seconds.toFixed(1)} s` +
          (device === 'cpu' ? '' : ` | ${formatMemory(device)}`),
      );
    }
  } finally {
    await trainSrc?.close();
  }

  const rows = csv.read();
  const n = rows['epoch'].length;
  const at = (c: string) => (n ? rows[c][n - 1] : NaN);
  const result: ProbeResult = {
    val_top1: at('val_top1'),
    train_top1: at('train_top1'),
    epochs: n ? rows['epoch'][n - 1] : 0,
    val_top1_batch_mean: at('val_top1_batch_mean'),
    val_loss: at('val_loss'),
    train_loss: at('train_loss'),
    eval_name: cfg.eval_name,
    tag: paths.tag,
    encoder_checkpoint: s.encoderCheckpoint,
    random_init: s.encoderCheckpoint === null,
    cache_features: ext.cacheFeatures,
    seconds: (performance.now() - t0) / 1000,
    feature_seconds: featureSeconds,
    folder: paths.folder,
    csv: paths.csv,
    plot: paths.plot,
    checkpoint: paths.checkpoint,
    results: paths.results,
    unloadable: { train: [...s.unloadable.train], val: [...s.unloadable.val] },
  };
  warnUnloadable(log, result.unloadable);
  // Keep the in-memory figures when the CSV lost precision (it stores 3 to 5 decimals).
  if (last.val.seen > 0 && n && rows['epoch'][n - 1] === stopAt) {
    result.val_top1 = top1(last.val);
    result.train_top1 = top1(last.train);
    result.val_loss = meanLoss(last.val);
    result.train_loss = meanLoss(last.train);
    result.val_top1_batch_mean = last.val.batchTop1Sum / last.val.batches;
  }
  if (stopAt < epochs) result.stopped_early = true;
  else writeFileSync(paths.results, JSON.stringify(result, null, 2) + '\n');
  return result;
}

function valProtocol(s: ProbeSession): string {
  return `val ${s.valSegments} seg × ${s.valViews} views, attend_across_segments ${s.settings.attendAcrossSegments}`;
}

// What decides the val score besides the classifier: a probe scored with other values than it was trained
// with (another encoder, another protocol) does not reproduce its training run's val top-1.
const VAL_PROTOCOL_KEYS = [
  'pretrain.folder',
  'pretrain.checkpoint',
  'pretrain.checkpoint_key',
  'data.num_segments',
  'data.num_views_per_segment',
  'data.frames_per_clip',
  'optimization.attend_across_segments',
  'optimization.resolution',
  'optimization.cache_features',
  'pretrain.frame_step',
  'pretrain.clip_duration',
  'meta.seed',
];

/** Where the config a probe was trained with (ours store it) and this one differ in the val protocol. */
function protocolChanges(trained: unknown, cfg: ProbeConfig): string[] {
  if (typeof trained !== 'object' || trained === null) return [];
  const get = (o: unknown, path: string) => path.split('.').reduce<unknown>((n, k) => (typeof n === 'object' && n !== null ? (n as Record<string, unknown>)[k] : undefined), o);
  return VAL_PROTOCOL_KEYS.filter((k) => get(trained, k) !== undefined && JSON.stringify(get(trained, k)) !== JSON.stringify(get(cfg, k))).map(
    (k) => `${k}: the probe was trained with ${JSON.stringify(get(trained, k))}, this config has ${JSON.stringify(get(cfg, k))}; the score will differ from its training run's`,
  );
}

export interface ProbeScoreOptions {
  log?: (line: string) => void;
  /** `--probe-checkpoint`: ours or the original's .pth.tar; default: the run folder's latest (either) */
  probeCheckpoint?: string;
}

/** `vjepa-probe CONFIG --eval-only`: one validation pass of a saved probe, written to `<tag>-eval-results.json` and `<tag>-eval-predictions.csv`. */
export interface ProbeEvalResult extends ProbeRunFields {
  eval_only: true;
  /** val videos (or images) scored */
  val_samples: number;
  probe_checkpoint: string;
  /** 'vjepa': ours (safetensors); 'original': the original's .pth.tar */
  probe_checkpoint_format: 'vjepa' | 'original';
  /** completed training epochs of the probe checkpoint */
  probe_epoch: number;
  /** % of val samples whose label is among the 5 most probable classes (EVAL-04's averaged softmax) */
  val_top5: number;
  /** top-1 per class with samples, by label */
  per_class: ClassTally[];
  /** `<tag>-eval-predictions.csv`: path, label, prediction, correct, p_prediction, p_label, top5 per val sample */
  predictions: string;
  /** whose val clips were scored (1-based, as the log counts epochs): those of the training run's last epoch, the first with cache_features */
  val_clips_of_epoch: number;
  unloadable: { val: string[] };
}

/** The probe checkpoint to score: the flag's file, else the run folder's latest (ours, then the original's). */
export function probeCheckpointToScore(paths: ProbePaths, flag: string | undefined): string {
  if (flag !== undefined) {
    const file = resolve(flag);
    if (!existsSync(file)) throw new Error(`--probe-checkpoint: ${file} does not exist`);
    return file;
  }
  const latest = latestProbeCheckpoint(paths);
  if (latest === null)
    throw new Error(
      `--eval-only: no probe checkpoint to score: neither ${paths.checkpoint} nor the original's ${paths.original} exists. ` +
        'Train the probe first (vjepa-probe CONFIG.yaml) or name a checkpoint with --probe-checkpoint FILE.',
    );
  return latest;
}

/**
 * Scores a saved probe: the classifier from ours or the original's checkpoint, ONE pass over the val split
 * with the training run's protocol (segments × views, attend_across_segments) and the clip draw its last
 * epoch used, so our own checkpoint gets the val top-1 its training printed. Builds no training loader,
 * computes no training features; in the run folder it writes `<tag>-eval-results.json` and `<tag>-eval-predictions.csv`
 * (a row per val sample, in val order) and nothing else.
 */
export async function scoreProbe(cfg: ProbeConfig, ext: ProbeExtensions, opts: ProbeScoreOptions = {}): Promise<ProbeEvalResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const t0 = performance.now();
  const run = selectRunDevice(cfg, log);
  const paths = probePaths(cfg);
  const file = probeCheckpointToScore(paths, opts.probeCheckpoint);
  // Read and checked before the encoder is built: a wrong file fails at once.
  let probe: ProbeCheckpointFile;
  try {
    probe = readProbeCheckpoint(file);
  } catch (e) {
    throw new Error(opts.probeCheckpoint === undefined ? (e as Error).message : `--probe-checkpoint: ${(e as Error).message}`);
  }
  const { encoder, checkpoint: encCkpt } = buildFrozenEncoder(cfg, log);
  let classifier: AttentiveClassifier | null = null;
  try {
    if (run.device !== 'cpu') encoder.to(run.device);
    // The frozen encoder's shape decides (the pooler's few queries share its head_dim's choice).
    tuneRunAttention(run.device, run.matmulDtype, [encoderAttention(encoder, cfg.optimization.batch_size)], log);
    classifier = newClassifier(cfg, encoder, run.device);
    const st = applyProbeCheckpoint(probe, classifier, null);
    for (const w of protocolChanges(st.config, cfg)) log(`warning: ${w}`);
    const s = await openSession(cfg, ext, log, run, encoder, encCkpt, false);
    const drawEpoch = ext.cacheFeatures ? VAL_CACHE_DRAW_EPOCH : Math.max(0, st.epoch - 1);
    const kind = st.format === 'torch' ? "the original's probe checkpoint" : 'vjepa probe checkpoint';
    log(
      `probe: scoring ${file} (${kind}, after epoch ${st.epoch}) | encoder ${cfg.pretrain.model_name} D=${s.D} ${tokensPerClip(cfg, encoder)} tokens/clip, ${encCkpt ?? 'RANDOM INIT'} | ` +
        (s.video ? `${valProtocol(s)} | ` : '') +
        `val clips of epoch ${drawEpoch + 1}${ext.cacheFeatures ? ' (as cached for training)' : ''} | device ${run.device} | threads ${native.numThreads()}`,
    );
    const valCache = ext.cacheFeatures ? await cacheValFeatures(s, featureProgress(log, performance.now())('val')) : null;
    const predictions = new Predictions(cfg.data.num_classes);
    const val = await validate(s, classifier, valCache, drawEpoch, predictions);
    const summary = predictions.summary();
    const result: ProbeEvalResult = {
      eval_only: true,
      val_top1: top1(val),
      val_top5: summary.top5,
      per_class: summary.perClass,
      val_top1_batch_mean: val.batchTop1Sum / val.batches,
      val_loss: meanLoss(val),
      val_samples: val.seen,
      probe_checkpoint: file,
      probe_checkpoint_format: st.format === 'torch' ? 'original' : 'vjepa',
      probe_epoch: st.epoch,
      val_clips_of_epoch: drawEpoch + 1,
      eval_name: cfg.eval_name,
      tag: paths.tag,
      encoder_checkpoint: encCkpt,
      random_init: encCkpt === null,
      cache_features: ext.cacheFeatures,
      seconds: (performance.now() - t0) / 1000,
      folder: paths.folder,
      results: paths.evalResults,
      predictions: paths.evalPredictions,
      unloadable: { val: [...s.unloadable.val] },
    };
    warnUnloadable(log, result.unloadable);
    log(`eval: val top-1 ${result.val_top1.toFixed(2)}% top-5 ${result.val_top5.toFixed(2)}% loss ${result.val_loss.toFixed(4)} on ${val.seen} val samples | ${result.seconds.toFixed(1)} s`);
    mkdirSync(paths.folder, { recursive: true });
    predictions.write(paths.evalPredictions);
    writeFileSync(paths.evalResults, JSON.stringify(result, null, 2) + '\n');
    return result;
  } finally {
    classifier?.dispose();
    encoder.dispose();
  }
}

/** Tokens of one probe clip: the image model (MOD-02) gives every frame its own. */
function tokensPerClip(cfg: ProbeConfig, encoder: VisionTransformer): number {
  const T = cfg.eval_name === IMAGE_EVAL ? cfg.pretrain.frames_per_clip : (cfg.data as VideoProbeData).frames_per_clip;
  const r = cfg.optimization.resolution;
  return encoder.tokenGrid(T, r, r).reduce((a, b) => a * b, 1);
}
