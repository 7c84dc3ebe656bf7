// Probe checkpoints (EVAL-06) as atomic safetensors: the classifier under `classifier.*`
// (`module.*` in the original's .pth.tar), AdamW moments, and the loop state as JSON metadata.
import { existsSync } from 'node:fs';
import type { HostTensor } from '../io/host-tensor.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { exportStateDict, loadStateDict } from '../nn/state.js';
import type { AttentiveClassifier } from '../nn/pooler.js';
import type { AdamW } from '../optim/adamw.js';

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
  const steps: Record<string, number> = {};
  for (const [name, slot] of opt.state()) {
    tensors.set(`opt.exp_avg.${name}`, { dtype: 'float32', shape: [...slot.m.shape], data: slot.m.toFloat32Array() });
    tensors.set(`opt.exp_avg_sq.${name}`, { dtype: 'float32', shape: [...slot.v.shape], data: slot.v.toFloat32Array() });
    steps[name] = slot.step;
  }
  writeSafetensors(path, tensors, { format: PROBE_CHECKPOINT_FORMAT, state: JSON.stringify(state), opt_steps: JSON.stringify(steps) });
}

export function loadProbeCheckpoint(path: string, classifier: AttentiveClassifier, opt: AdamW | null): ProbeState {
  if (!existsSync(path)) throw new Error(`probe checkpoint ${path} does not exist`);
  const file = readSafetensors(path);
  if (file.metadata.format !== PROBE_CHECKPOINT_FORMAT)
    throw new Error(`${path}: not a vjepa probe checkpoint (format '${file.metadata.format ?? 'none'}', expected '${PROBE_CHECKPOINT_FORMAT}')`);
  const sd = new Map<string, HostTensor>();
  for (const [k, v] of file.tensors) if (k.startsWith('classifier.')) sd.set(k.slice('classifier.'.length), v);
  loadStateDict(classifier, sd, { what: `${path} classifier` });
  if (opt) {
    const steps = JSON.parse(file.metadata.opt_steps ?? '{}') as Record<string, number>;
    const st = new Map<string, { m: Float32Array; v: Float32Array; step: number }>();
    for (const [name, step] of Object.entries(steps)) {
      const m = file.tensors.get(`opt.exp_avg.${name}`);
      const v = file.tensors.get(`opt.exp_avg_sq.${name}`);
      if (!m || !v) throw new Error(`${path}: optimizer state for ${name} is incomplete`);
      st.set(name, { m: m.data as Float32Array, v: v.data as Float32Array, step });
    }
    opt.loadState(st);
  }
  return JSON.parse(file.metadata.state) as ProbeState;
}
