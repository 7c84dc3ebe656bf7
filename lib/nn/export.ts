// One section of any checkpoint we read (ours, or the original's .pth.tar), written alone as a bare
// safetensors state dict under the original's names (MOD-15): the file vjepa-embed, vjepa-probe and
// meta.init_checkpoint read, and PyTorch's load_state_dict(strict=True) takes. A released or trained
// encoder is then shared at a fifth of a training checkpoint's size (no online encoder, predictor or
// AdamW moments), or a tenth in bf16.
import { resolve } from 'node:path';
import { ITEM_SIZE, f32ToBf16, type HostTensor } from '../io/host-tensor.js';
import { numel } from '../tensor.js';
import { writeSafetensors } from '../io/safetensors.js';
import { readEncoderStateDict, type CheckpointFormat } from './checkpoint-load.js';
import { stripPrefixes, toFloat32 } from './state.js';

export const EXPORT_FORMAT = 'vjepa-state-dict';

export interface ExportOptions {
  /** section; default target_encoder when present, else encoder (EVAL-02), else the whole file */
  key?: string;
  /** stored dtype of the floating-point tensors (default float32) */
  dtype?: 'float32' | 'bfloat16';
}

export interface ExportResult {
  out: string;
  format: CheckpointFormat;
  key: string | null;
  tensors: number;
  parameters: number;
  bytes: number;
}

export function exportCheckpointSection(checkpoint: string, out: string, o: ExportOptions = {}): ExportResult {
  const dtype = o.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'bfloat16') throw new Error(`--dtype must be float32 or bfloat16, got ${String(dtype)}`);
  if (resolve(out) === resolve(checkpoint)) throw new Error(`--out ${out} is the checkpoint itself`);
  const sd = readEncoderStateDict(checkpoint, o.key);
  const tensors = new Map<string, HostTensor>();
  let parameters = 0;
  let bytes = 0;
  for (const [raw, t] of sd.tensors) {
    const name = stripPrefixes(raw);
    if (tensors.has(name)) throw new Error(`${checkpoint}: ${raw} and another key both name ${name} once the module./backbone. prefixes are dropped`);
    const float = ['float32', 'float64', 'bfloat16', 'float16'].includes(t.dtype);
    const v: HostTensor = !float
      ? t
      : dtype === 'bfloat16'
        ? { dtype: 'bfloat16', shape: [...t.shape], data: f32ToBf16(toFloat32(t, raw)) }
        : { dtype: 'float32', shape: [...t.shape], data: toFloat32(t, raw) };
    tensors.set(name, v);
    const n = numel(t.shape);
    parameters += n;
    bytes += n * ITEM_SIZE[v.dtype];
  }
  if (tensors.size === 0) throw new Error(`${checkpoint}: ${sd.key === null ? 'the file' : `section ${sd.key}`} holds no tensors`);
  writeSafetensors(out, tensors, { format: EXPORT_FORMAT, source: resolve(checkpoint), key: sd.key ?? '', dtype });
  return { out: resolve(out), format: sd.format, key: sd.key, tensors: tensors.size, parameters, bytes };
}
