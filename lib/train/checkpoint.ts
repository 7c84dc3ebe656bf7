// Training checkpoints as safetensors (TRAIN-12): encoder, predictor and target encoder
// under their original state-dict names, AdamW moments by parameter, and the loop's
// state (epoch, iteration, schedules, mask counters, config) as JSON metadata.
// Writes are atomic (temp file + fsync + rename): a kill mid-write keeps the last one.
// Device-agnostic: tensor reads copy to the host for writing, loads write into the
// parameters and optimizer state wherever they live (a CUDA run resumes on its GPU).
import { existsSync } from 'node:fs';
import type { HostTensor } from '../io/host-tensor.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { readTorchCheckpoint, tensorsOf } from '../io/torch-pickle.js';
import { checkpointFormat } from '../nn/checkpoint-load.js';
import { exportStateDict, keepOwnPositionTables, loadStateDict, section, stripPrefixes } from '../nn/state.js';
import type { VJepa } from '../nn/vjepa.js';
import { splitByDecay, type AdamW } from '../optim/adamw.js';
import { exportOptimizerState, loadOptimizerState, loadTorchAdamWState } from '../optim/checkpoint.js';
import { PROBE_CHECKPOINT_FORMAT } from '../probe/checkpoint.js';

export const CHECKPOINT_FORMAT = 'vjepa-pretrain/1';

export interface LoopState {
  /** Completed epochs (as the original's `epoch`). */
  epoch: number;
  /** Completed iterations over the whole run (the next batch index). */
  iteration: number;
  /** That epoch's average loss so far. */
  loss: number;
  lrStep: number;
  wdStep: number;
  emaStep: number;
  /** null: the collator is fast-forwarded by `iteration` steps (a resume from the original's file). */
  maskCounters: number[] | null;
  /** Batches meta.skip_batches has skipped so far: the next batch's index is iteration + this (absent: 0). */
  dataOffset?: number;
  batchSize: number;
  /** The configured peak lr, as the original stores it (§8.34). */
  lr: number;
  config: unknown;
}

export function saveCheckpoint(path: string, model: VJepa, opt: AdamW, state: LoopState): void {
  const tensors = new Map<string, HostTensor>();
  for (const [k, v] of exportStateDict(model.encoder, 'encoder.')) tensors.set(k, v);
  for (const [k, v] of exportStateDict(model.predictor, 'predictor.')) tensors.set(k, v);
  for (const [k, v] of exportStateDict(model.targetEncoder, 'target_encoder.')) tensors.set(k, v);
  const optSteps = exportOptimizerState(opt, tensors);
  writeSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT,
    state: JSON.stringify(state),
    opt_steps: optSteps,
    world_size: '1',
  });
}

export interface LoadedCheckpoint {
  state: LoopState;
  /** Notes for the log (a resume from the original's file says what it took and what it ignored). */
  notes: string[];
}

/**
 * Resumes from one of our checkpoints or from the original's own `.pth.tar` (TRAIN-12). `ipe` places an
 * original checkpoint, which records only completed epochs, on our iteration count.
 */
export function loadCheckpoint(path: string, model: VJepa, opt: AdamW | null, ipe = 1): LoadedCheckpoint {
  if (!existsSync(path)) throw new Error(`checkpoint ${path} does not exist`);
  if (checkpointFormat(path) === 'torch') return loadOriginalCheckpoint(path, model, opt, ipe);
  const file = readSafetensors(path);
  if (file.metadata.format !== CHECKPOINT_FORMAT)
    throw new Error(`${path}: not a vjepa pretraining checkpoint (format '${file.metadata.format ?? 'none'}', expected '${CHECKPOINT_FORMAT}')`);
  const pick = (prefix: string) => section(file.tensors, prefix);
  loadStateDict(model.encoder, pick('encoder.'), { what: `${path} encoder` });
  loadStateDict(model.predictor, pick('predictor.'), { what: `${path} predictor` });
  loadStateDict(model.targetEncoder, pick('target_encoder.'), { what: `${path} target_encoder` });
  if (opt) loadOptimizerState(opt, file.tensors, file.metadata.opt_steps, path);
  return { state: JSON.parse(file.metadata.state) as LoopState, notes: [] };
}

const SECTIONS = ['encoder', 'predictor', 'target_encoder'] as const;

/**
 * The original's training checkpoint (its save_checkpoint): the three state dicts, its AdamW state and the
 * number of completed epochs. Like its load_checkpoint, the run goes on at that epoch with the schedules and
 * the mask counters fast-forwarded by epoch × ipe; the GradScaler state has no counterpart here (bf16 needs
 * none) and is ignored.
 */
function loadOriginalCheckpoint(path: string, model: VJepa, opt: AdamW | null, ipe: number): LoadedCheckpoint {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ckpt = readTorchCheckpoint(path) as any;
  const keys = ckpt && typeof ckpt === 'object' && !Array.isArray(ckpt) ? Object.keys(ckpt) : [];
  const absent = SECTIONS.filter((k) => !ckpt?.[k] || typeof ckpt[k] !== 'object');
  if (absent.length)
    throw new Error(
      `${path}: not a pretraining checkpoint of the original: no ${absent.join(', ')} (it holds: ${keys.join(', ') || 'nothing'}). ` +
        'To start from encoder weights alone, this file is for vjepa-probe / vjepa-embed.',
    );
  // Names in stored order, prefixes stripped: the original's AdamW groups are formed in this order.
  const stateDicts = SECTIONS.map((k) => new Map([...tensorsOf(ckpt[k])].map(([n, t]) => [stripPrefixes(n), t])));
  loadStateDict(model.encoder, stateDicts[0], { what: `${path} encoder` });
  loadStateDict(model.predictor, stateDicts[1], { what: `${path} predictor` });
  loadStateDict(model.targetEncoder, stateDicts[2], { what: `${path} target_encoder` });

  const notes: string[] = [];
  if (opt && ckpt.opt) {
    // TRAIN-04: decayed encoder, decayed predictor, then their bias / 1-D tensors; the frozen pos_embed
    // tables are in the first two groups (they are parameters there), without state.
    const names = (sec: string, g: [string, HostTensor][]) => g.map(([n]) => `${sec}.${n}`);
    const [encDecay, encRest] = splitByDecay(stateDicts[0]);
    const [predDecay, predRest] = splitByDecay(stateDicts[1]);
    const groups = [names('encoder', encDecay), names('predictor', predDecay), names('encoder', encRest), names('predictor', predRest)];
    const n = loadTorchAdamWState(opt, ckpt.opt, groups, path);
    notes.push(`AdamW state of ${n} tensors`);
  } else if (opt) {
    notes.push('no optimizer state in the file: AdamW starts from zero moments');
  }
  const epoch = Number(ckpt.epoch ?? 0);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new Error(`${path}: epoch ${String(ckpt.epoch)} is not a count of completed epochs`);
  if (ckpt.scaler) notes.push('its GradScaler state is ignored');
  const batch = Number(ckpt.batch_size ?? 0) * Number(ckpt.world_size ?? 1);
  const iteration = epoch * ipe;
  return {
    state: {
      epoch,
      iteration,
      loss: 0,
      lrStep: iteration,
      wdStep: iteration,
      emaStep: iteration,
      maskCounters: null,
      batchSize: batch,
      lr: Number(ckpt.lr ?? 0),
      config: null,
    },
    notes,
  };
}

/**
 * `meta.init_checkpoint` (a vjepa extension): weights only, from ours or the original's files, with the
 * optimizer, schedules and data stream left fresh. The online encoder, target encoder and predictor come
 * from the sections of those names; a file of encoder weights alone (one section, or a bare state dict)
 * starts both encoders from them and keeps the predictor's fresh init. Returns a line for the log.
 */
export function initFromCheckpoint(path: string, model: VJepa): string {
  if (!existsSync(path)) throw new Error(`meta.init_checkpoint: ${path} not found`);
  const sections = new Map<string, Map<string, HostTensor>>();
  let bare: Map<string, HostTensor> | null = null;
  if (checkpointFormat(path) === 'torch') {
    // The weights only: the optimizer state beside them (twice their size) is never read.
    const ckpt = readTorchCheckpoint(path, (secs, keys) => {
      const want = SECTIONS.filter((k) => secs.includes(k));
      return want.length ? want : keys;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
    }) as any;
    for (const k of SECTIONS) if (ckpt?.[k] && typeof ckpt[k] === 'object') sections.set(k, tensorsOf(ckpt[k]));
    if (sections.size === 0 && ckpt && typeof ckpt === 'object') bare = tensorsOf(ckpt);
  } else {
    const { tensors, metadata } = readSafetensors(path);
    if (metadata.format === PROBE_CHECKPOINT_FORMAT) throw new Error(`meta.init_checkpoint: ${path} holds no encoder weights (it is a probe checkpoint)`);
    for (const k of SECTIONS) {
      const sd = section(tensors, `${k}.`);
      if (sd.size) sections.set(k, sd);
    }
    if (sections.size === 0) bare = tensors;
  }
  const encKey = sections.has('encoder') ? 'encoder' : sections.has('target_encoder') ? 'target_encoder' : null;
  const enc = encKey ? sections.get(encKey)! : bare;
  if (!enc || enc.size === 0) throw new Error(`meta.init_checkpoint: ${path} holds no encoder weights`);
  const tgtKey = sections.has('target_encoder') ? 'target_encoder' : encKey;
  const from = (key: string | null) => (key ? `[${key}]` : '(bare state dict)');
  const tgt = tgtKey ? sections.get(tgtKey)! : enc;
  const pred = sections.get('predictor');
  // Weights trained at another resolution or frame count fit; their fixed sincos tables do not.
  const notes = new Set([...keepOwnPositionTables(model.encoder, enc), ...keepOwnPositionTables(model.targetEncoder, tgt), ...(pred ? keepOwnPositionTables(model.predictor, pred) : [])]);
  loadStateDict(model.encoder, enc, { what: `meta.init_checkpoint ${path} ${from(encKey)} as the encoder` });
  loadStateDict(model.targetEncoder, tgt, { what: `meta.init_checkpoint ${path} ${from(tgtKey)} as the target encoder` });
  if (pred) loadStateDict(model.predictor, pred, { what: `meta.init_checkpoint ${path} [predictor]` });
  return (
    `init: weights from ${path}: encoder ${from(encKey)}, target encoder ${from(tgtKey)}, predictor ${pred ? '[predictor]' : 'fresh init'}; ` +
    `optimizer, schedules and data start fresh${notes.size ? `; ${[...notes].join('; ')}` : ''}`
  );
}
