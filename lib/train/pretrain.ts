// The pretraining loop (TRAIN-01..14) on one machine: data → masks → V-JEPA step →
// AdamW → EMA → log, with atomic checkpoints and an exact resume.
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { native } from '../native.js';
import { Tensor, tidy, hostArrayDType } from '../tensor.js';
import type { PretrainConfig } from '../config/index.js';
import { MaskCollator, type MaskBatch } from '../masks/index.js';
import { VJepa } from '../nn/vjepa.js';
import { configOverrides } from '../nn/registry.js';
import { AdamW } from '../optim/adamw.js';
import { CosineWDSchedule, EmaMomentumSchedule, WarmupCosineSchedule, scheduleSteps } from '../optim/schedules.js';
import { VideoLoader } from '../data/loader.js';
import { synthesizeMissing } from '../data/synth.js';
import { pretrainStep, type MaskPair } from './iteration.js';
import { assertBf16Device, CastPlan, cpuBf16Pays, type MatmulDtype } from '../ops/autocast.js';
import { describeDevice, selectDevice } from '../device.js';
import { encoderAttention, tuneRunAttention } from '../ops/attention-tuning.js';
import { initFromCheckpoint, loadCheckpoint, saveCheckpoint, type LoopState } from './checkpoint.js';
import { CsvLog, formatMemory, gradText } from './log.js';
import { writeTrainingPlot } from './plot.js';

export interface PretrainOptions {
  log?: (line: string) => void;
  /** Progress line on a TTY (\r), plain lines otherwise. */
  tty?: boolean;
  /** Stop after this many iterations in this process (tests; the run stays resumable). */
  maxIterations?: number;
  /**
   * Fetch batch i+1 before step i and upload it while step i runs (StepSettings.overlap), so
   * that on CUDA its host-to-device copy overlaps step i's compute. Default: on for CUDA; off
   * on the CPU, where it would only move the copy. The results are the same either way.
   */
  uploadAhead?: boolean;
  /** Start afresh in a folder that already holds a run (its checkpoint and CSV are replaced). */
  overwrite?: boolean;
}

export interface PretrainResult {
  iterations: number;
  firstLoss: number;
  lastLoss: number;
  checkpoint: string;
  csv: string;
  plot: string;
  loaderFailures: number;
}

/** Resolves the dataset CSVs, creating the synthetic set first when the config asks for it. */
export async function resolveDatasets(cfg: PretrainConfig, log: (s: string) => void): Promise<string[]> {
  const missing = cfg.data.datasets.filter((p) => !existsSync(p));
  if (missing.length === 0 && cfg.data.datasets.length > 0) return cfg.data.datasets;
  const syn = cfg.data.synthetic;
  if (!syn) {
    if (cfg.data.datasets.length === 0) throw new Error('data.datasets: no index CSV given');
    throw new Error(`data.datasets: ${missing.join(', ')} not found (set data.synthetic to create a synthetic dataset)`);
  }
  const ds = await synthesizeMissing(missing, syn, 'data.datasets', log);
  return cfg.data.datasets.length > 0 ? cfg.data.datasets : [ds.trainCsv];
}

/**
 * The V-JEPA bundle a pretraining config describes, on the host, seeded by meta.seed;
 * `uninitialised` skips the random init (a strict load follows).
 */
export function buildModel(cfg: PretrainConfig, opts: { uninitialised?: boolean } = {}): VJepa {
  return new VJepa({
    modelName: cfg.model.model_name,
    overrides: configOverrides(cfg.model),
    cropSize: cfg.data.crop_size,
    patchSize: cfg.data.patch_size,
    numFrames: cfg.data.num_frames,
    tubeletSize: cfg.data.tubelet_size,
    uniformPower: cfg.model.uniform_power,
    predEmbedDim: cfg.model.pred_embed_dim,
    predDepth: cfg.model.pred_depth,
    numMaskTokens: cfg.mask.length,
    zeroInitMaskTokens: cfg.model.zero_init_mask_tokens,
    seed: cfg.meta.seed,
    uninitialised: opts.uninitialised,
  });
}

/** The mask collator of a pretraining config (masks of batch k are a function of meta.seed and k). */
export function buildMaskCollator(cfg: PretrainConfig): MaskCollator {
  return new MaskCollator({
    masks: cfg.mask,
    maskType: cfg.data.mask_type,
    numFrames: cfg.data.num_frames,
    tubeletSize: cfg.data.tubelet_size,
    cropSize: cfg.data.crop_size,
    patchSize: cfg.data.patch_size,
    seed: cfg.meta.seed,
  });
}

/** The training loader of a pretraining config (DATA-04 transform), starting at batch `startBatch`. */
export function buildLoader(cfg: PretrainConfig, datasets: string[], startBatch: number, log: (s: string) => void): VideoLoader {
  return new VideoLoader({
    csvPaths: datasets,
    datasetWeights: cfg.data.datasets_weights ?? undefined,
    batchSize: cfg.data.batch_size,
    framesPerClip: cfg.data.num_frames,
    frameStep: cfg.data.sampling_rate,
    numClips: cfg.data.num_clips,
    clipDuration: cfg.data.clip_duration,
    cropSize: cfg.data.crop_size,
    training: true,
    filterShortVideos: cfg.data.filter_short_videos,
    transform: {
      kind: 'train',
      scale: cfg.data_aug.random_resize_scale,
      ratio: cfg.data_aug.random_resize_aspect_ratio,
      flip: true,
      autoAugment: cfg.data_aug.auto_augment,
      motionShift: cfg.data_aug.motion_shift,
      reprob: cfg.data_aug.reprob,
    },
    seed: cfg.meta.seed,
    numWorkers: Math.max(1, cfg.data.num_workers),
    startBatch,
    log,
  });
}

/**
 * TRAIN-09: bfloat16 / float16 turn on mixed precision on the GPU (bf16 GEMM operands, fp32
 * accumulation, ops/autocast.ts). The original's CPU runs are fp32 (its autocast is CUDA's); here
 * a CPU with AVX512-BF16 (`isa` 'avx512bf16'), whose bf16 GEMMs run at twice fp32's rate, takes
 * the request too, and other CPUs keep fp32, where bf16 would be no faster.
 */
export function trainingMatmulDtype(dtype: string, device: string, log: (s: string) => void, isa = native.isa().active): MatmulDtype {
  const mixed = dtype === 'bfloat16' || dtype === 'float16';
  if (!mixed) return 'float32';
  if (device === 'cpu' && !cpuBf16Pays(isa)) {
    log(`meta.dtype: ${dtype} runs as float32 on this CPU (${isa}, no AVX512-BF16: bf16 would be no faster; the original's CPU runs are fp32, TRAIN-09)`);
    return 'float32';
  }
  if (device === 'cpu')
    log('meta.dtype: bf16 mixed precision on the CPU (AVX512-BF16: bf16 GEMMs at twice fp32\'s rate; attention, the residual stream, weights, gradients and optimizer state stay fp32; the original\'s CPU runs are fp32, TRAIN-09)');
  if (dtype === 'float16')
    log('meta.dtype: float16 runs as bfloat16 mixed precision (no fp16 kernels; bf16 keeps fp32\'s range, so no loss scaler is needed)');
  else if (device !== 'cpu') log('meta.dtype: bfloat16 mixed precision: GEMMs and attention take bf16 operands (fp32 accumulation), activations that only feed them are bf16; the residual stream, weights, gradients and optimizer state stay fp32');
  return 'bfloat16';
}

export async function pretrain(cfg: PretrainConfig, opts: PretrainOptions = {}): Promise<PretrainResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const device = selectDevice(cfg.meta.device, { cudaSupported: true });
  const onGpu = device !== 'cpu';
  if (cfg.meta.threads) native.setNumThreads(cfg.meta.threads);
  if (device.startsWith('cuda')) log(`device: ${describeDevice(device)}`);
  const matmulDtype = trainingMatmulDtype(cfg.meta.dtype, device, log);
  if (matmulDtype === 'bfloat16') assertBf16Device(device, 'meta.dtype', 'set meta.dtype: float32');
  const castPlan = new CastPlan();  // the bf16 weight copies: learned at step 1, rounded together after
  if (!cfg.model.use_mask_tokens)
    throw new Error('model.use_mask_tokens: false selects the original\'s dead "diffusion" predictor path (§8.28), which vjepa does not implement');

  const folder = resolve(cfg.logging.folder);
  const tag = cfg.logging.write_tag;
  const latest = join(folder, `${tag}-latest.safetensors`);
  const csvPath = join(folder, `${tag}_r0.csv`);
  const plotPath = join(folder, `${tag}-curves.png`);
  // TRAIN-12; like os.path.join, an absolute read_checkpoint stands on its own.
  const resumePath = cfg.meta.load_checkpoint ? (cfg.meta.read_checkpoint ? resolve(folder, cfg.meta.read_checkpoint) : latest) : null;
  if (resumePath !== null && cfg.meta.read_checkpoint && !existsSync(resumePath))
    throw new Error(`meta.read_checkpoint: ${resumePath} not found (nothing to resume from)`);
  if (!cfg.meta.load_checkpoint && cfg.meta.read_checkpoint)
    log(`warning: meta.read_checkpoint (${cfg.meta.read_checkpoint}) is ignored while meta.load_checkpoint is false: starting fresh`);
  // The original overwrites a previous run without a word; forgetting the resume flag after a crash would lose it.
  const previous = [latest, csvPath].filter((p) => existsSync(p));
  if (!cfg.meta.load_checkpoint && !opts.overwrite && previous.length > 0)
    throw new Error(
      `logging.folder: ${folder} already holds a run (${previous.map((p) => basename(p)).join(', ')}). ` +
        'Resume it with --set meta.load_checkpoint=true, replace it with --overwrite, or choose another logging.folder.',
    );

  const datasets = await resolveDatasets(cfg, log);
  const B = cfg.data.batch_size;
  const numClips = cfg.data.num_clips;

  const resuming = resumePath !== null && existsSync(resumePath);
  // Built on the host (seeded init, sincos tables), then moved; the optimizer's state is
  // created next to each parameter, so it lands on the device too. A resume's strict load
  // overwrites every weight, so then nothing is drawn.
  const model = buildModel(cfg, { uninitialised: resuming });
  if (device !== 'cpu') model.to(device);
  const pred = model.predictor.cfg;
  tuneRunAttention(device, matmulDtype, [
    encoderAttention(model.encoder, B),
    { dim: pred.predictorEmbedDim, heads: pred.numHeads, tokens: model.encoder.numTokens, batch: B },
  ], log);
  if (cfg.meta.init_checkpoint && resuming) log(`meta.init_checkpoint: ignored, the run resumes from ${resumePath}`);
  else if (cfg.meta.init_checkpoint) log(initFromCheckpoint(resolve(cfg.meta.init_checkpoint), model));
  const opt = new AdamW(model.paramGroups(), { betas: cfg.optimization.betas, eps: cfg.optimization.eps });
  const collator = buildMaskCollator(cfg);

  // The loader is built twice only when resuming (the start batch is known after loading).
  const makeLoader = (startBatch: number) => buildLoader(cfg, datasets, startBatch, log);

  let loader = makeLoader(0);
  // Only now, with the index files read, does the run folder get anything.
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'params-pretrain.yaml'), stringify(cfg));
  const ipe = cfg.optimization.ipe ?? loader.batchesPerEpoch;
  const epochs = cfg.optimization.epochs;
  const { warmup, total } = scheduleSteps({ warmupEpochs: cfg.optimization.warmup, epochs, ipe, ipeScale: cfg.optimization.ipe_scale });
  const lrSched = new WarmupCosineSchedule({
    startLr: cfg.optimization.start_lr,
    refLr: cfg.optimization.lr,
    finalLr: cfg.optimization.final_lr,
    warmupSteps: warmup,
    totalSteps: total,
  });
  const wdSched = new CosineWDSchedule({ refWd: cfg.optimization.weight_decay, finalWd: cfg.optimization.final_weight_decay, totalSteps: total });
  const emaSched = new EmaMomentumSchedule({ start: cfg.optimization.ema[0], end: cfg.optimization.ema[1], ipe, epochs, ipeScale: cfg.optimization.ipe_scale });

  let startIteration = 0;
  // The data stream runs ahead of the iterations by the batches meta.skip_batches skipped (TRAIN-10).
  let dataOffset = 0;
  let epochLossSum = 0;
  let epochLossCount = 0;
  if (resumePath !== null) {
    if (resuming) {
      const { state, notes } = loadCheckpoint(resumePath, model, opt, ipe);
      startIteration = state.iteration;
      dataOffset = state.dataOffset ?? 0;
      lrSched.skip(state.lrStep);
      wdSched.skip(state.wdStep);
      emaSched.skip(state.emaStep);
      if (state.maskCounters) collator.loadState({ counters: state.maskCounters });
      else collator.step(state.iteration);
      if (notes.length) log(`resume: from the original's checkpoint: ${notes.join('; ')}`);
      if (state.batchSize > 0 && state.batchSize !== B)
        log(`warning: ${resumePath} was trained at a global batch of ${state.batchSize}; this run's is ${B} (its epochs and schedules are counted in this config's iterations)`);
      epochLossSum = state.loss * (state.iteration - state.epoch * ipe);
      epochLossCount = state.iteration - state.epoch * ipe;
      log(
        `resume: ${resumePath} at iteration ${startIteration} (epoch ${state.epoch + 1}, itr ${startIteration % ipe})` +
          (dataOffset ? `; data at batch ${startIteration + dataOffset} (meta.skip_batches skipped ${dataOffset} so far)` : ''),
      );
      await loader.close();
      loader = makeLoader(startIteration + dataOffset);
    } else {
      log(`resume: no checkpoint at ${resumePath}; starting fresh`);
    }
  }
  if (cfg.meta.skip_batches > 0) {
    // TRAIN-10: on every start, resumes too (the original's way past a bad batch after a crash), it moves
    // the data stream and the mask counters, not the schedules; the checkpoints keep the offset.
    collator.step(cfg.meta.skip_batches);
    dataOffset += cfg.meta.skip_batches;
    await loader.close();
    loader = makeLoader(startIteration + dataOffset);
    log(`data: skipping ${cfg.meta.skip_batches} batches (meta.skip_batches): iteration ${startIteration} trains on batch ${startIteration + dataOffset}`);
  }

  const csv = new CsvLog(csvPath);
  csv.open(startIteration);
  const totalIterations = epochs * ipe;
  const stopAt = Math.min(totalIterations, startIteration + (opts.maxIterations ?? Infinity));
  log(
    `model: encoder ${(model.encoder.numParameters() / 1e6).toFixed(2)}M params, predictor ${(model.predictor.numParameters() / 1e6).toFixed(2)}M; ` +
      `${model.encoder.numTokens} tokens per clip; ${totalIterations} iterations (${epochs} epochs × ${ipe}); threads ${native.numThreads()}`,
  );

  // The collator's counters as of the batch whose step ran last: with uploadAhead the
  // collator has already sampled the next batch when the checkpoint is written.
  let maskCounters = collator.state().counters;
  const state = (iteration: number): LoopState => ({
    epoch: Math.floor(iteration / ipe),
    iteration,
    loss: epochLossCount ? epochLossSum / epochLossCount : 0,
    lrStep: lrSched.stepCount,
    wdStep: wdSched.stepCount,
    emaStep: emaSched.stepCount,
    maskCounters,
    dataOffset,
    batchSize: B,
    lr: cfg.optimization.lr,
    config: cfg,
  });
  // TRAIN-12: a save that fails (a full disk, a permission) is logged and training goes on, as in the
  // original; the previous file is intact (atomic writes) and the next save tries again. A run whose
  // last save failed ends with that error.
  let saveError: string | null = null;
  const checkpoint = (iteration: number): boolean => {
    const ep = Math.floor(iteration / ipe);
    const files = [latest];
    if (cfg.meta.save_every_freq > 0 && iteration % ipe === 0 && (ep - 1) % cfg.meta.save_every_freq === 0)
      files.push(join(folder, `${tag}-e${ep - 1}.safetensors`));
    saveError = null;
    for (const f of files) {
      try {
        saveCheckpoint(f, model, opt, state(iteration));
      } catch (e) {
        saveError = `checkpoint: could not write ${f} at iteration ${iteration}: ${(e as Error).message}`;
        log(`${saveError}; training goes on (any earlier ${basename(f)} is intact) and the next save tries again`);
      }
    }
    writeTrainingPlot(plotPath, csv.read());
    return saveError === null;
  };

  let firstLoss = NaN;
  let lastLoss = NaN;
  let iteration = startIteration;
  const it = loader[Symbol.asyncIterator]();
  const ahead = opts.uploadAhead ?? device !== 'cpu';
  let waited = 0; // ms this iteration spent waiting for the loader
  // The next batch with its masks and its device tensors, not yet filled: upload() does
  // that, one asynchronous copy per tensor straight from the loader's arrays (on CUDA they
  // are staged in pinned memory and copied on the copy stream). The loop disposes the tensors.
  const stage = async (): Promise<Staged> => {
    const tWait = performance.now();
    const next = await it.next();
    waited += performance.now() - tWait;
    if (next.done) throw new Error('data loader ended unexpectedly');
    const batch = next.value;
    const masks = collator.sample(batch.batchIndex, B);
    const host: [Tensor, Float32Array | Int32Array][] = [];
    const alloc = (data: Float32Array | Int32Array, shape: number[]) => {
      const t = Tensor.empty(shape, hostArrayDType(data), device);
      host.push([t, data]);
      return t;
    };
    try {
      const clips = alloc(batch.clips, [numClips * B, ...batch.shape.slice(2)]);
      const pairs: MaskPair[] = masks.ctx.map((c, i) => ({
        ctx: alloc(repeatRows(c.data, numClips), [numClips * B, c.K]),
        tgt: alloc(repeatRows(masks.tgt[i].data, numClips), [numClips * B, masks.tgt[i].K]),
      }));
      return { clips, pairs, masks, maskCounters: collator.state().counters, host };
    } catch (e) {
      for (const [t] of host) t.dispose();
      throw e;
    }
  };
  let cur: Staged | null = null;
  let next: Staged | null = null;
  let tPrev = performance.now();
  try {
    while (iteration < stopAt) {
      const epoch = Math.floor(iteration / ipe);
      const itr = iteration % ipe;
      if (itr === 0) {
        epochLossSum = 0;
        epochLossCount = 0;
      }
      waited = 0;
      cur = next ?? (await stage());
      next = null;
      upload(cur); // unless it went up during the previous step
      if (ahead && iteration + 1 < stopAt) next = await stage();
      const dataMs = waited;
      const following = next;
      const { masks, clips, pairs } = cur;
      const lr = lrSched.step();
      const wd = wdSched.step();
      const momentum = emaSched.step();
      const stopBeforeUpdate = (what: string): never => {
        throw new Error(
          `${what} at epoch ${epoch + 1}, itr ${itr} (iteration ${iteration}); stopping without an update. ` +
            (existsSync(latest) ? `The last good checkpoint (${latest}) was not overwritten.` : 'No checkpoint had been written yet.'),
        );
      };
      // gpu-time(ms), TRAIN-11: the step's time on the GPU's stream, apart from the host's.
      if (onGpu) native.cudaStopwatchStart(device);
      const rec = tidy(() => {
        return pretrainStep(model, opt, clips, pairs, {
          lossExp: cfg.loss.loss_exp,
          regCoeff: cfg.loss.reg_coeff,
          lr,
          wd,
          momentum,
          matmulDtype,
          castPlan,
          // TRAIN-08 step 7: clip only after warmup (epoch index > warmup).
          clipGrad: cfg.optimization.clip_grad !== null && epoch > cfg.optimization.warmup ? cfg.optimization.clip_grad : null,
          // The next batch's copies are issued once this step's first kernels are queued and
          // run while the rest of the step computes.
          overlap: following ? () => upload(following) : undefined,
          checkLoss: (loss) => {
            if (!Number.isFinite(loss)) stopBeforeUpdate(`loss is ${loss}`);
          },
          // A finite loss can still have overflowed in backward: the update would write NaN weights.
          checkGradNorms: (enc, pred) => {
            if (!Number.isFinite(enc) || !Number.isFinite(pred)) stopBeforeUpdate(`gradient norm is not finite (encoder ${enc}, predictor ${pred})`);
          },
        });
      });
      const gpuMs = onGpu ? native.cudaStopwatchStop(device) : null;
      maskCounters = cur.maskCounters;
      disposeStaged(cur);
      cur = null;
      const encNorm = rec.encGradNorm;
      const predNorm = rec.predGradNorm;
      iteration++;

      const now = performance.now();
      const ms = now - tPrev;
      tPrev = now;
      if (Number.isNaN(firstLoss)) firstLoss = rec.loss;
      lastLoss = rec.loss;
      epochLossSum += rec.loss;
      epochLossCount++;
      csv.append({
        epoch: epoch + 1,
        itr,
        loss: rec.loss,
        lossJepa: rec.lossJepa,
        lossReg: rec.lossReg,
        encGradNorm: encNorm,
        predGradNorm: predNorm,
        wallMs: ms,
        gpuMs,
        dataMs,
        iteration: iteration - 1,
        lr,
        wd,
        momentum,
        clipsPerSec: (numClips * B * 1000) / ms,
        targetStd: rec.targetStd,
        predStd: rec.predStd,
        ctxTokens: masks.ctx.map((c) => c.K),
        tgtTokens: masks.tgt.map((t) => t.K),
        targetRank: rec.targetRank,
        contextRank: rec.contextRank,
      });
      const line =
        `[${epoch + 1}, ${String(itr).padStart(4)}] loss: ${(epochLossSum / epochLossCount).toFixed(4)} ` +
        `| masks ctx [${masks.ctx.map((c) => c.K).join(', ')}] tgt [${masks.tgt.map((t) => t.K).join(', ')}] ` +
        `| lr ${lr.toExponential(2)} wd ${wd.toFixed(3)} m ${momentum.toFixed(5)} ` +
        `| grad enc ${gradText(encNorm)} pred ${gradText(predNorm)} | std tgt ${rec.targetStd.toFixed(3)} pred ${rec.predStd.toFixed(3)} | rank tgt ${rec.targetRank.toFixed(1)} ctx ${rec.contextRank.toFixed(1)} ` +
        `| ${ms.toFixed(0)} ms/it (data ${dataMs.toFixed(0)}${gpuMs === null ? '' : `, gpu ${gpuMs.toFixed(0)}`}) ${((numClips * B * 1000) / ms).toFixed(1)} clips/s | ${formatMemory(device)}`;
      if (opts.tty) process.stdout.write(`\r${line}\x1b[K`);
      else if (itr % 10 === 0 || itr === ipe - 1) log(line);

      const epochDone = iteration % ipe === 0;
      const every = cfg.logging.checkpoint_every;
      if (epochDone || (every && iteration % every === 0) || iteration === stopAt) {
        if (opts.tty) process.stdout.write('\n');
        const tSave = performance.now();
        const saved = checkpoint(iteration);
        // The save is not the next step's time: ms/it and the CSV's wall time stay per step.
        tPrev = performance.now();
        const saveText = saved ? `${((tPrev - tSave) / 1e3).toFixed(2)} s` : 'not written: see above';
        if (epochDone) log(`epoch ${epoch + 1} done: avg loss ${(epochLossSum / epochLossCount).toFixed(5)}; checkpoint ${latest} (${saveText})`);
      }
    }
  } finally {
    if (cur) disposeStaged(cur);
    if (next) disposeStaged(next);
    await loader.close();
  }
  if (saveError) {
    model.dispose();
    opt.dispose();
    throw new Error(`${saveError}; the run's last iterations are not saved`);
  }
  const stats = loader.stats();
  if (stats.failed > 0) log(`data: ${stats.failed} sample(s) failed to load and were replaced: ${stats.failedPaths.slice(0, 5).join(', ')}${stats.failedPaths.length > 5 ? ', …' : ''}`);
  if (stats.seekFallbacks > 0) {
    log(`data: ${stats.seekFallbacks} of ${stats.seeked} keyframe seeks missed and were decoded from frame 0 instead (transport streams do this); \`vjepa-data prepare\` rewrites videos as mp4`);
  }
  model.dispose();
  opt.dispose();
  return { iterations: iteration - startIteration, firstLoss, lastLoss, checkpoint: latest, csv: csvPath, plot: plotPath, loaderFailures: stats.failed };
}

/** One batch for its step. */
interface Staged {
  clips: Tensor;
  pairs: MaskPair[];
  masks: MaskBatch;
  /** The collator's counters right after this batch's masks were sampled. */
  maskCounters: number[];
  /** The tensors' host values, until upload() has issued their copies. */
  host: [Tensor, Float32Array | Int32Array][] | null;
}

function upload(s: Staged): void {
  if (!s.host) return;
  for (const [t, data] of s.host) t.writeAsync(data);
  s.host = null;
}

function disposeStaged(s: Staged): void {
  s.clips.dispose();
  for (const p of s.pairs) {
    p.ctx.dispose();
    p.tgt.dispose();
  }
}

function repeatRows(data: Int32Array, times: number): Int32Array {
  if (times === 1) return data;
  const out = new Int32Array(data.length * times);
  for (let i = 0; i < times; i++) out.set(data, i * data.length);
  return out;
}
