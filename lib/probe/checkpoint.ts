// Probe checkpoints (EVAL-06) as atomic safetensors: the classifier under `classifier.*`
// (`module.*` in the original's .pth.tar), AdamW moments, and the loop state as JSON metadata.
// Loading also takes the original's own probe checkpoints (its eval's `{write_tag}-latest.pth.tar`:
// `classifier`, `opt`, `scaler`, `epoch`, ...), Meta's released probes among them.
import { existsSync } from 'node:fs';
import type { HostTensor } from '../io/host-tensor.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { isHostTensor, readTorchCheckpoint, tensorsOf } from '../io/torch-pickle.js';
import { checkpointFormat, type CheckpointFormat } from '../nn/checkpoint-load.js';
import { exportStateDict, loadStateDict, section, stripPrefixes } from '../nn/state.js';
import type { AttentiveClassifier } from '../nn/pooler.js';
import { splitByDecay, type AdamW } from '../optim/adamw.js';
import { exportOptimizerState, loadOptimizerState, loadTorchAdamWState } from '../optim/checkpoint.js';

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
  /** NaN for the original's files, which do not store them */
  trainTop1: number;
  valTop1: number;
  /** null for the original's files */
  config: unknown;
}

/** A probe checkpoint read and checked, not yet applied to a classifier. */
export interface ProbeCheckpointFile {
  path: string;
  /** 'safetensors': ours; 'torch': the original's .pth.tar */
  format: CheckpointFormat;
  /** the classifier's tensors by our names (the original's `module.` removed), in stored order */
  classifier: Map<string, HostTensor>;
  /** epoch, batch size, lr; lrStep / wdStep of the original's files are set by applyProbeCheckpoint */
  state: ProbeState;
  // The optimizer state in the file's own form, or null when it holds none.
  opt: { kind: 'ours'; tensors: Map<string, HostTensor>; steps: string | undefined } | { kind: 'torch'; stateDict: unknown } | null;
  /** what the file holds that is not used (the original's GradScaler state) */
  ignored: string[];
}

export interface LoadedProbeState extends ProbeState {
  format: CheckpointFormat;
  /** for the log: what was restored and what was not */
  notes: string[];
}

export function saveProbeCheckpoint(path: string, classifier: AttentiveClassifier, opt: AdamW, state: ProbeState): void {
  const tensors = new Map<string, HostTensor>();
  for (const [k, v] of exportStateDict(classifier, 'classifier.')) tensors.set(k, v);
  const optSteps = exportOptimizerState(opt, tensors);
  writeSafetensors(path, tensors, { format: PROBE_CHECKPOINT_FORMAT, state: JSON.stringify(state), opt_steps: optSteps });
}

/**
 * Reads ours (safetensors) or the original's (.pth.tar) probe checkpoint. `ipe` (iterations per epoch of this
 * run) places an original file, which records only completed epochs, on the schedules: lrStep = wdStep =
 * epoch · ipe, the fast-forward our resume applies (NaN without it).
 */
export function loadProbeCheckpoint(path: string, classifier: AttentiveClassifier, opt: AdamW | null, ipe?: number): LoadedProbeState {
  return applyProbeCheckpoint(readProbeCheckpoint(path), classifier, opt, ipe);
}

/** Reads and checks a probe checkpoint of either layout; a file without a classifier is refused by what it holds. */
export function readProbeCheckpoint(path: string): ProbeCheckpointFile {
  if (!existsSync(path)) throw new Error(`probe checkpoint ${path} does not exist`);
  return checkpointFormat(path) === 'torch' ? readOriginal(path) : readOurs(path);
}

/**
 * Loads the classifier strictly and, when `opt` is given and the file has it, the AdamW state. For the
 * original's files the AdamW groups are its eval's: the classifier's parameters in state-dict order, those
 * whose name lacks 'bias' and that are not 1-D first, then the rest (which it keeps at weight decay 0).
 */
export function applyProbeCheckpoint(file: ProbeCheckpointFile, classifier: AttentiveClassifier, opt: AdamW | null, ipe?: number): LoadedProbeState {
  const { path } = file;
  loadStateDict(classifier, file.classifier, { what: `${path} classifier` });
  const notes: string[] = [];
  const state = { ...file.state };
  if (file.format === 'torch') {
    const step = file.state.epoch * (ipe ?? NaN);
    state.lrStep = step;
    state.wdStep = step;
  }
  if (opt && file.opt?.kind === 'ours') {
    loadOptimizerState(opt, file.opt.tensors, file.opt.steps, path);
    notes.push(`AdamW state of ${opt.state().size} tensors`);
  } else if (opt && file.opt?.kind === 'torch') {
    const groups = splitByDecay(file.classifier).map((g) => g.map(([n]) => n));
    notes.push(`AdamW state of ${loadTorchAdamWState(opt, file.opt.stateDict, groups, path)} tensors`);
  } else if (opt) {
    notes.push('no optimizer state in the file: AdamW starts from zero moments');
  }
  for (const what of file.ignored) notes.push(`its ${what} is ignored`);
  return { ...state, format: file.format, notes };
}

function readOurs(path: string): ProbeCheckpointFile {
  const file = readSafetensors(path);
  if (file.metadata.format !== PROBE_CHECKPOINT_FORMAT) {
    const sections = [...new Set([...file.tensors.keys()].map((k) => k.split('.')[0]))];
    throw new Error(
      `${path}: not a vjepa probe checkpoint (format '${file.metadata.format ?? 'none'}', expected '${PROBE_CHECKPOINT_FORMAT}'; ` +
        `it holds: ${sections.join(', ') || 'no tensors'})${pretrainHint(sections)}`,
    );
  }
  const opt = [...file.tensors.keys()].some((k) => k.startsWith('opt.')) || file.metadata.opt_steps ? { kind: 'ours' as const, tensors: file.tensors, steps: file.metadata.opt_steps } : null;
  return { path, format: 'safetensors', classifier: section(file.tensors, 'classifier.'), state: JSON.parse(file.metadata.state) as ProbeState, opt, ignored: [] };
}

// The original's eval saves {classifier, opt, scaler, epoch, batch_size, world_size, lr}.
function readOriginal(path: string): ProbeCheckpointFile {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ckpt = readTorchCheckpoint(path) as any;
  const isDict = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !isHostTensor(v);
  const keys = isDict(ckpt) ? Object.keys(ckpt) : [];
  const sd = isDict(ckpt) ? ckpt.classifier : undefined;
  if (!isDict(sd) || !Object.values(sd).some(isHostTensor))
    throw new Error(`${path}: not a probe checkpoint: no classifier (it holds: ${keys.join(', ') || 'nothing'})${pretrainHint(keys)}`);
  // Names in stored order, `module.` removed: the original's AdamW groups are formed in this order.
  const classifier = new Map([...tensorsOf(sd)].map(([k, v]) => [stripPrefixes(k), v]));
  const epoch = Number(ckpt.epoch ?? 0);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new Error(`${path}: epoch ${String(ckpt.epoch)} is not a count of completed epochs`);
  return {
    path,
    format: 'torch',
    classifier,
    state: {
      epoch,
      lrStep: NaN,
      wdStep: NaN,
      batchSize: Number(ckpt.batch_size ?? NaN),
      worldSize: Number(ckpt.world_size ?? 1),
      lr: Number(ckpt.lr ?? NaN),
      trainTop1: NaN,
      valTop1: NaN,
      config: null,
    },
    opt: isDict(ckpt.opt) ? { kind: 'torch', stateDict: ckpt.opt } : null,
    // fp16's loss scale has no counterpart here (fp32 on the CPU, bf16 on GPUs needs none).
    ignored: ckpt.scaler ? ['GradScaler state'] : [],
  };
}

function pretrainHint(sections: string[]): string {
  return sections.some((s) => s === 'encoder' || s === 'target_encoder')
    ? ': a pretraining checkpoint, which belongs in pretrain.checkpoint (the frozen encoder), not where a probe is loaded'
    : '';
}
