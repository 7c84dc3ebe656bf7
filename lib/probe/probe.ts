// The frozen-evaluation loop (EVAL-01..07): frozen encoder -> clip aggregation -> attentive
// classifier, AdamW with warmup-cosine lr and cosine wd, per-epoch CSV / curves / checkpoint,
// resume, and a results JSON. With optimization.cache_features the encoder runs once per video.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { native } from '../native.js';
import { tidy, type Tensor } from '../tensor.js';
import { IMAGE_EVAL, VIDEO_EVAL, type ProbeConfig, type VideoProbeData } from '../config/probe.js';
import { AttentiveClassifier } from '../nn/pooler.js';
import { InitRng } from '../nn/init.js';
import type { VisionTransformer } from '../nn/vit.js';
import { AdamW, type ParamGroup } from '../optim/adamw.js';
import { CosineWDSchedule, WarmupCosineSchedule, scheduleSteps } from '../optim/schedules.js';
import { describeDevice, selectDevice } from '../device.js';
import { formatMemory } from '../train/log.js';
import type { ProbeExtensions } from './config.js';
import { buildFrozenEncoder } from './encoder.js';
import { encodeBatch } from './aggregate.js';
import { imageSource, resolveVideoSplits, videoSource, type BatchSource, type ClipBatch } from './data.js';
import { computeFeatures, SampleTable, type FeatureBatch, type FeatureSet } from './features.js';
import { featuresTo, probeEvalStep, probeTrainStep, type FeatureInput, type ProbeStepRecord } from './step.js';
import { loadProbeCheckpoint, saveProbeCheckpoint, type ProbeState } from './checkpoint.js';
import { ProbeCsv, writeProbePlot } from './log.js';
import { assertBf16Device, autocast, type MatmulDtype } from '../ops/autocast.js';

/** EVAL-05: the final weight decay is fixed in the original's code, not a config key. */
export const PROBE_FINAL_WD = 1e-6;
export { PROBE_CLIP_GRAD } from './step.js';

export interface ProbeOptions {
  log?: (line: string) => void;
  /** stop after this many epochs in this process (tests; the run stays resumable) */
  maxEpochs?: number;
  /** called with the frozen encoder right after loading, and with both models before they are freed (tests) */
  inspect?: { loaded?: (encoder: VisionTransformer) => void; finished?: (encoder: VisionTransformer, classifier: AttentiveClassifier) => void };
}

export interface ProbeResult {
  val_top1: number;
  train_top1: number;
  epochs: number;
  val_top1_batch_mean: number;
  val_loss: number;
  train_loss: number;
  eval_name: string;
  tag: string | null;
  encoder_checkpoint: string | null;
  random_init: boolean;
  cache_features: boolean;
  seconds: number;
  feature_seconds: number;
  folder: string;
  csv: string;
  plot: string;
  checkpoint: string;
  results: string;
  /** set when maxEpochs stopped the run early */
  stopped_early?: boolean;
  /** files that could not be loaded and were replaced by others (DATA-02), by split */
  unloadable: { train: string[]; val: string[] };
}

export interface ProbePaths {
  folder: string;
  csv: string;
  plot: string;
  checkpoint: string;
  results: string;
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
    results: join(folder, `${tag ?? w}-results.json`),
  };
}

/** EVAL-05: weights (and the query token) decay; biases and 1-D parameters do not. */
export function classifierParamGroups(c: AttentiveClassifier): ParamGroup[] {
  const decay: [string, Tensor][] = [];
  const noDecay: [string, Tensor][] = [];
  for (const [n, t] of c.trainableParameters()) (n.includes('bias') || t.rank === 1 ? noDecay : decay).push([n, t]);
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

export async function runProbe(cfg: ProbeConfig, ext: ProbeExtensions, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const t0 = performance.now();
  // Before any output or model exists: a missing GPU stops here with the driver's reason.
  const device = selectDevice(cfg.meta.device, { cudaSupported: true });
  if (cfg.meta.threads) native.setNumThreads(cfg.meta.threads);
  // EVAL-05 autocasts to fp16 with a loss scaler; bf16 needs no scaler. CPU runs stay fp32 (TRAIN-09).
  const matmulDtype: MatmulDtype = cfg.optimization.use_bfloat16 && device !== 'cpu' ? 'bfloat16' : 'float32';
  if (device !== 'cpu') log(`device: ${describeDevice(device)}`);
  if (matmulDtype === 'bfloat16') assertBf16Device(device, 'optimization.use_bfloat16', 'set it to false');
  if (cfg.optimization.use_bfloat16)
    log(
      device === 'cpu'
        ? 'optimization.use_bfloat16: ignored on the CPU, which runs fp32'
        : `optimization.use_bfloat16: bf16 mixed precision on ${device} for the encoder and the classifier (the original autocasts to fp16 with a loss scaler)`,
    );
  const video = cfg.eval_name === VIDEO_EVAL;
  if (!video && cfg.eval_name !== IMAGE_EVAL) throw new Error(`eval_name: unknown protocol ${cfg.eval_name}`);

  const paths = probePaths(cfg);

  // Both models are built (seeded init, weights loaded) on the host, then moved; AdamW's state is
  // created next to each parameter, so it lands on the device too.
  const { encoder, checkpoint: encCkpt } = buildFrozenEncoder(cfg, log);
  // Only once the encoder has loaded: a missing or bad checkpoint leaves no run folder behind.
  mkdirSync(paths.folder, { recursive: true });
  writeFileSync(join(paths.folder, 'params-probe.yaml'), stringify({ ...cfg, extensions: ext }));
  const D = encoder.cfg.embedDim;
  const numClasses = cfg.data.num_classes;
  let classifier: AttentiveClassifier | null = null;
  let opt: AdamW | null = null;
  try {
    if (device !== 'cpu') encoder.to(device);
    opts.inspect?.loaded?.(encoder);
    // tidy frees the init temporaries the constructor leaves behind (the parameters are kept).
    classifier = tidy(() => new AttentiveClassifier(D, encoder.cfg.numHeads, numClasses, new InitRng(cfg.meta.seed + 1)));
    if (device !== 'cpu') classifier.to(device);
    opt = new AdamW(classifierParamGroups(classifier));
    const result = await train(classifier, opt);
    opts.inspect?.finished?.(encoder, classifier);
    return result;
  } finally {
    classifier?.dispose();
    encoder.dispose();
    opt?.dispose();
  }

  async function train(classifier: AttentiveClassifier, opt: AdamW): Promise<ProbeResult> {
    const B = cfg.optimization.batch_size;
    const attend = cfg.optimization.attend_across_segments;
    const seed = cfg.meta.seed;

    // EVAL-03: train on num_segments segments only when attending across them; always 1 view.
    const vd = video ? (cfg.data as VideoProbeData) : null;
    const splits = vd ? await resolveVideoSplits(vd, log) : null;
    const trainSegments = vd ? (attend ? vd.num_segments : 1) : 1;
    const valSegments = vd ? vd.num_segments : 1;
    const valViews = vd ? vd.num_views_per_segment : 1;

    // DATA-02 replaces what cannot be loaded, in the val split too, which changes the set the
    // top-1 is measured on: the sources note every such file, and the end of the run says so.
    const unloadable = { train: new Set<string>(), val: new Set<string>() };
    const noting = (src: BatchSource, into: Set<string>): BatchSource => ({
      ...src,
      close: async () => {
        for (const p of src.failedPaths()) into.add(p);
        await src.close();
      },
    });
    const makeTrain = (cache: boolean, startBatch: number): BatchSource => noting(makeTrainSource(cache, startBatch), unloadable.train);
    const makeVal = (epoch: number): BatchSource => noting(makeValSource(epoch), unloadable.val);
    const makeTrainSource = (cache: boolean, startBatch: number): BatchSource =>
      video
        ? videoSource(cfg, { csv: splits!.trainCsv, training: !cache, evalTransform: cache, numSegments: trainSegments, numViews: 1, batchSize: B, seed, startBatch, passes: cache ? 1 : undefined, log })
        : imageSource(cfg, { split: 'train', training: !cache, evalTransform: cache, batchSize: B, seed, startBatch, passes: cache ? 1 : undefined, log });
    const makeValSource = (epoch: number): BatchSource =>
      video
        ? videoSource(cfg, { csv: splits!.valCsv, training: false, evalTransform: true, numSegments: valSegments, numViews: valViews, batchSize: B, seed: seed + 1000 + epoch, passes: 1, log })
        : imageSource(cfg, { split: 'val', training: false, evalTransform: true, batchSize: B, seed: seed + 1000 + epoch, passes: 1, log });

    // Feature cache: both splits once (val with the epoch-0 clip draw), kept on the host.
    let trainTable: SampleTable | null = null;
    let valCache: FeatureSet | null = null;
    let featureSeconds = 0;
    if (ext.cacheFeatures) {
      const tf = performance.now();
      const progress = (what: string) => (k: number, n: number) => {
        if (k === n || k % 8 === 0) log(`features: ${what} ${k}/${n} batches (${((performance.now() - tf) / 1000).toFixed(0)} s)`);
      };
      const trainSrc = makeTrain(true, 0);
      try {
        trainTable = new SampleTable(await computeFeatures(encoder, trainSrc, ext.encoderBatch, progress('train'), matmulDtype));
      } finally {
        await trainSrc.close();
      }
      const valSrc = makeVal(0);
      try {
        valCache = await computeFeatures(encoder, valSrc, ext.encoderBatch, progress('val'), matmulDtype);
      } finally {
        await valSrc.close();
      }
      featureSeconds = (performance.now() - tf) / 1000;
      log(`features: cached ${trainTable.length} train + ${valCache.numSamples} val videos ([${trainTable.S}×${trainTable.set.N}, ${D}] per train video) in ${featureSeconds.toFixed(1)} s`);
    }

    let trainSrc: BatchSource | null = null;
    const ipe = trainTable ? trainTable.batchesPerEpoch(B) : (trainSrc = makeTrain(false, 0)).length;
    if (ipe < 1) throw new Error(`optimization.batch_size: ${B} is larger than the training split`);
    const epochs = cfg.optimization.num_epochs;
    const { warmup, total } = scheduleSteps({ warmupEpochs: cfg.optimization.warmup, epochs, ipe });
    const lrSched = new WarmupCosineSchedule({ startLr: cfg.optimization.start_lr, refLr: cfg.optimization.lr, finalLr: cfg.optimization.final_lr, warmupSteps: warmup, totalSteps: total });
    const wdSched = new CosineWDSchedule({ refWd: cfg.optimization.weight_decay, finalWd: PROBE_FINAL_WD, totalSteps: total });

    let startEpoch = 0;
    if (cfg.resume_checkpoint && existsSync(paths.checkpoint)) {
      // Host tensors from the file are written into the classifier and AdamW state where they live.
      const st = loadProbeCheckpoint(paths.checkpoint, classifier, opt);
      startEpoch = st.epoch;
      // EVAL-06: fast-forward both schedules by start_epoch · ipe.
      lrSched.skip(startEpoch * ipe);
      wdSched.skip(startEpoch * ipe);
      log(`resume: ${paths.checkpoint} after epoch ${startEpoch}`);
    } else if (cfg.resume_checkpoint) {
      log(`resume: no checkpoint at ${paths.checkpoint}; starting fresh`);
    }
    if (trainSrc && startEpoch > 0) {
      await trainSrc.close();
      trainSrc = makeTrain(false, startEpoch * ipe);
    }

    const csv = new ProbeCsv(paths.csv);
    csv.open(startEpoch);
    log(
      `probe: ${cfg.eval_name} ${paths.tag ?? ''} | encoder ${cfg.pretrain.model_name} D=${D} ${encoder.numTokens} tokens/clip, ${encCkpt ?? 'RANDOM INIT'} | ` +
        `classifier ${(classifier.numParameters() / 1e6).toFixed(3)}M params | ${epochs} epochs × ${ipe} it, batch ${B} | ` +
        (video ? `train ${trainSegments} seg × 1 view, val ${valSegments} seg × ${valViews} views, attend_across_segments ${attend} | ` : '') +
        `features ${ext.cacheFeatures ? 'cached' : 'recomputed every step'} | device ${device} | threads ${native.numThreads()}`,
    );

    const settings = { attendAcrossSegments: attend, numClasses, matmulDtype };
    const count = (t: Tally, r: ProbeStepRecord, B: number) => {
      t.lossSum += r.loss * B;
      t.calls += B;
      t.correct += r.correct;
      t.seen += B;
      t.batchTop1Sum += (100 * r.correct) / B;
      t.batches += 1;
    };
    const trainOn = (x: FeatureInput, t: Tally) => {
      const lr = lrSched.step();
      const wd = wdSched.step();
      count(t, probeTrainStep(classifier, opt, x, { ...settings, lr, wd }), x.layout.B);
    };
    const evalOn = (x: FeatureInput, t: Tally) => count(t, probeEvalStep(classifier, x, settings), x.layout.B);
    // One host-to-device copy per batch (clips or cached features); labels go with the loss.
    const encodeOne = (b: ClipBatch): FeatureInput => ({
      feats: autocast(matmulDtype, () => encodeBatch(encoder, b.clips, b.clipShape, b.layout, ext.encoderBatch)),
      layout: b.layout,
      labels: b.labels,
    });
    const fromHost = (fb: FeatureBatch, N: number): FeatureInput => ({ feats: featuresTo(fb.feats, fb.layout, N, D, device), layout: fb.layout, labels: fb.labels });

    const stopAt = Math.min(epochs, startEpoch + (opts.maxEpochs ?? Infinity));
    const trainIter = trainSrc?.iterate();
    let last = { train: newTally(), val: newTally() };
    try {
      for (let epoch = startEpoch; epoch < stopAt; epoch++) {
        const te = performance.now();
        const train = newTally();
        if (trainTable) {
          const order = trainTable.order(seed, epoch);
          for (let k = 0; k < ipe; k++) {
            const fb = trainTable.gather(order.subarray(k * B, (k + 1) * B));
            tidy(() => trainOn(fromHost(fb, trainTable!.set.N), train));
          }
        } else {
          for (let k = 0; k < ipe; k++) {
            const next = await trainIter!.next();
            if (next.done) throw new Error('probe: training loader ended unexpectedly');
            const b = next.value;
            tidy(() => trainOn(encodeOne(b), train));
            if (k % 20 === 0) log(`[${epoch + 1}, ${String(k).padStart(4)}] train top-1 ${((100 * train.correct) / train.seen).toFixed(2)}% loss ${(train.lossSum / train.calls).toFixed(4)}`);
          }
        }
        const val = newTally();
        if (valCache) {
          for (const fb of valCache.batches) tidy(() => evalOn(fromHost(fb, valCache!.N), val));
        } else {
          const src = makeVal(epoch);
          try {
            for await (const b of src.iterate()) tidy(() => evalOn(encodeOne(b), val));
          } finally {
            await src.close();
          }
        }
        last = { train, val };
        const rec = {
          epoch: epoch + 1,
          trainLoss: train.lossSum / train.calls,
          trainTop1: (100 * train.correct) / train.seen,
          valLoss: val.lossSum / val.calls,
          valTop1: (100 * val.correct) / val.seen,
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
      encoder_checkpoint: encCkpt,
      random_init: encCkpt === null,
      cache_features: ext.cacheFeatures,
      seconds: (performance.now() - t0) / 1000,
      feature_seconds: featureSeconds,
      folder: paths.folder,
      csv: paths.csv,
      plot: paths.plot,
      checkpoint: paths.checkpoint,
      results: paths.results,
      unloadable: { train: [...unloadable.train], val: [...unloadable.val] },
    };
    for (const split of ['train', 'val'] as const) {
      const bad = result.unloadable[split];
      if (bad.length > 0)
        log(
          `warning: ${bad.length} ${split} file${bad.length > 1 ? 's' : ''} could not be loaded and ${bad.length > 1 ? 'were' : 'was'} replaced by others (DATA-02)` +
            `${split === 'val' ? ', so val top-1 is over a different set' : ''}: ${bad.slice(0, 3).join(', ')}${bad.length > 3 ? ', …' : ''}`,
        );
    }
    // Keep the in-memory figures when the CSV lost precision (it stores 3 decimals).
    if (last.val.seen > 0 && n && rows['epoch'][n - 1] === stopAt) {
      result.val_top1 = (100 * last.val.correct) / last.val.seen;
      result.train_top1 = (100 * last.train.correct) / last.train.seen;
    }
    if (stopAt < epochs) result.stopped_early = true;
    else writeFileSync(paths.results, JSON.stringify(result, null, 2) + '\n');
    return result;
  }
}
