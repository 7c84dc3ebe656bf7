// Training checkpoints as safetensors (TRAIN-12): encoder, predictor and target encoder
// under their original state-dict names, AdamW moments by parameter, and the loop's
// state (epoch, iteration, schedules, mask counters, config) as JSON metadata.
// Writes are atomic (temp file + fsync + rename): a kill mid-write keeps the last one.
// Device-agnostic: tensor reads copy to the host for writing, loads write into the
// parameters and optimizer state wherever they live (a CUDA run resumes on its GPU).
import { existsSync } from 'node:fs';
import type { HostTensor } from '../io/host-tensor.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { exportStateDict, loadStateDict, section } from '../nn/state.js';
import type { VJepa } from '../nn/vjepa.js';
import type { AdamW } from '../optim/adamw.js';
import { exportOptimizerState, loadOptimizerState } from '../optim/checkpoint.js';

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
  maskCounters: number[];
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
}

export function loadCheckpoint(path: string, model: VJepa, opt: AdamW | null): LoadedCheckpoint {
  if (!existsSync(path)) throw new Error(`checkpoint ${path} does not exist`);
  const file = readSafetensors(path);
  if (file.metadata.format !== CHECKPOINT_FORMAT)
    throw new Error(`${path}: not a vjepa pretraining checkpoint (format '${file.metadata.format ?? 'none'}', expected '${CHECKPOINT_FORMAT}')`);
  const pick = (prefix: string) => section(file.tensors, prefix);
  loadStateDict(model.encoder, pick('encoder.'), { what: `${path} encoder` });
  loadStateDict(model.predictor, pick('predictor.'), { what: `${path} predictor` });
  loadStateDict(model.targetEncoder, pick('target_encoder.'), { what: `${path} target_encoder` });
  if (opt) loadOptimizerState(opt, file.tensors, file.metadata.opt_steps, path);
  return { state: JSON.parse(file.metadata.state) as LoopState };
}
