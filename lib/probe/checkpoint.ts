// Probe checkpoints (EVAL-06) as atomic safetensors: the classifier under `classifier.*`
// (`module.*` in the original's .pth.tar), AdamW moments, and the loop state as JSON metadata.
import { existsSync } from 'node:fs';
import type { HostTensor } from '../io/host-tensor.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { exportStateDict, loadStateDict, section } from '../nn/state.js';
import type { AttentiveClassifier } from '../nn/pooler.js';
import type { AdamW } from '../optim/adamw.js';
import { exportOptimizerState, loadOptimizerState } from '../optim/checkpoint.js';

export const PROBE_CHECKPOINT_FORMAT = 'vjepa-probe/1';

export interface ProbeState {
  /** completed epochs */
  epoch: number;
  lrStep: number;
  wdStep: number;
  batchSize: number;
  worldSize: number;
  /** the configured peak lr, as the original stores it (§8.34) */
  lr: number;
  trainTop1: number;
  valTop1: number;
  config: unknown;
}

export function saveProbeCheckpoint(path: string, classifier: AttentiveClassifier, opt: AdamW, state: ProbeState): void {
  const tensors = new Map<string, HostTensor>();
  for (const [k, v] of exportStateDict(classifier, 'classifier.')) tensors.set(k, v);
  const optSteps = exportOptimizerState(opt, tensors);
  writeSafetensors(path, tensors, { format: PROBE_CHECKPOINT_FORMAT, state: JSON.stringify(state), opt_steps: optSteps });
}

export function loadProbeCheckpoint(path: string, classifier: AttentiveClassifier, opt: AdamW | null): ProbeState {
  if (!existsSync(path)) throw new Error(`probe checkpoint ${path} does not exist`);
  const file = readSafetensors(path);
  if (file.metadata.format !== PROBE_CHECKPOINT_FORMAT)
    throw new Error(`${path}: not a vjepa probe checkpoint (format '${file.metadata.format ?? 'none'}', expected '${PROBE_CHECKPOINT_FORMAT}')`);
  loadStateDict(classifier, section(file.tensors, 'classifier.'), { what: `${path} classifier` });
  if (opt) loadOptimizerState(opt, file.tensors, file.metadata.opt_steps, path);
  return JSON.parse(file.metadata.state) as ProbeState;
}
