// Encoder weights from any checkpoint we meet (EVAL-02, MOD-15): our safetensors training
// checkpoints (`encoder.*`, `target_encoder.*`, ...), a bare safetensors state dict, and the
// official torch.save files (.pth.tar / .pt), read by the restricted unpickler (no code runs).
// Unlike the original's eval loader this is strict by default; `strict: false` is the
// original's partial load (mis-shaped keys keep the model's own value).
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { HostTensor } from '../io/host-tensor.js';
import { readSafetensors } from '../io/safetensors.js';
import { isHostTensor, readTorchCheckpoint, tensorsOf } from '../io/torch-pickle.js';
import { loadStateDict, section, type LoadReport } from './state.js';
import type { VisionTransformer } from './vit.js';

export type CheckpointFormat = 'safetensors' | 'torch';

export interface EncoderCheckpointOptions {
  /** Section to read; default `target_encoder` when present, else `encoder` (EVAL-02). */
  key?: string;
  /** Default true: any missing, unexpected or mis-shaped key is an error listing them all. */
  strict?: boolean;
}

export interface EncoderCheckpointReport extends LoadReport {
  path: string;
  format: CheckpointFormat;
  /** The section that was read, or null when the whole file is one state dict. */
  key: string | null;
}

export interface EncoderStateDict {
  format: CheckpointFormat;
  key: string | null;
  tensors: Map<string, HostTensor>;
}

const DEFAULT_KEYS = ['target_encoder', 'encoder'];

/**
 * Sniffs the container: torch zip ('PK'), safetensors (a u64 header length that fits the file, then
 * '{'), or legacy torch pickle (0x80). Safetensors is tried before the pickle byte: its length's low
 * byte is 0x80 in one file out of 256 (a header of 0x..80 bytes).
 */
export function checkpointFormat(path: string): CheckpointFormat {
  if (!existsSync(path)) throw new Error(`checkpoint ${path} does not exist`);
  const st = statSync(path);
  if (!st.isFile()) throw new Error(`checkpoint ${path} is not a file`);
  const head = new Uint8Array(9);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, 9, 0);
  } finally {
    closeSync(fd);
  }
  if (n >= 2 && head[0] === 0x50 && head[1] === 0x4b) return 'torch';
  if (n === 9 && head[8] === 0x7b && 8 + Number(new DataView(head.buffer).getBigUint64(0, true)) <= st.size) return 'safetensors';
  if (n >= 1 && head[0] === 0x80) return 'torch';
  throw new Error(`${path}: not a checkpoint vjepa can read (expected a PyTorch .pth.tar/.pt file or safetensors)`);
}

/** The encoder's raw tensors (names as stored; prefixes are stripped when loading). */
export function readEncoderStateDict(path: string, key?: string): EncoderStateDict {
  const format = checkpointFormat(path);
  return format === 'safetensors' ? fromSafetensors(path, key) : fromTorch(path, key);
}

function pickKey(path: string, available: string[], key: string | undefined): string | null {
  if (key !== undefined) {
    if (available.includes(key)) return key;
    throw new Error(`${path}: no "${key}" in the checkpoint (it holds: ${available.length ? available.join(', ') : 'no state-dict sections'})`);
  }
  return DEFAULT_KEYS.find((k) => available.includes(k)) ?? null;
}

function fromSafetensors(path: string, key: string | undefined): EncoderStateDict {
  const { tensors } = readSafetensors(path);
  const sections = [...new Set([...tensors.keys()].map((k) => k.split('.')[0]))].filter((s) => s !== 'module' && s !== 'backbone');
  const wanted = key === undefined ? sections.filter((s) => DEFAULT_KEYS.includes(s)) : sections;
  const chosen = pickKey(path, wanted, key);
  if (chosen === null) {
    // A bare state dict (e.g. an exported encoder): every tensor is a weight.
    return { format: 'safetensors', key: null, tensors };
  }
  return { format: 'safetensors', key: chosen, tensors: section(tensors, `${chosen}.`) };
}

function fromTorch(path: string, key: string | undefined): EncoderStateDict {
  // Only the chosen section's tensors are read from the file (readTorchCheckpoint's select).
  let chosen: string | null = null;
  const ckpt = readTorchCheckpoint(path, (sections, keys) => {
    chosen = pickKey(path, sections, key);
    return chosen === null ? keys : [chosen];
  });
  if (typeof ckpt !== 'object' || ckpt === null || Array.isArray(ckpt)) throw new Error(`${path}: the checkpoint is not a dict`);
  const entries = Object.entries(ckpt as Record<string, unknown>);
  let sd: Record<string, unknown>;
  if (chosen !== null) sd = (ckpt as Record<string, Record<string, unknown>>)[chosen];
  else if (entries.length > 0 && entries.some(([, v]) => isHostTensor(v))) sd = ckpt as Record<string, unknown>;
  else throw new Error(`${path}: no encoder weights: neither "target_encoder" nor "encoder" (it holds: ${entries.map(([k]) => k).join(', ') || 'nothing'})`);
  return { format: 'torch', key: chosen, tensors: tensorsOf(sd) };
}

/**
 * Loads encoder weights into `encoder`. Names are matched after removing the wrapper prefixes
 * `module.` and `backbone.` (MOD-15). The stored `pos_embed` replaces the built table.
 */
export function loadEncoderCheckpoint(path: string, encoder: VisionTransformer, opts: EncoderCheckpointOptions = {}): EncoderCheckpointReport {
  const sd = readEncoderStateDict(path, opts.key);
  const what = sd.key === null ? `${path}` : `${path} [${sd.key}]`;
  const report = loadStateDict(encoder, sd.tensors, { strict: opts.strict ?? true, what });
  return { ...report, path, format: sd.format, key: sd.key };
}

/** One-line summary of a partial load for logs. */
export function describeLoad(r: EncoderCheckpointReport): string {
  const src = r.key === null ? r.path : `${r.path} [${r.key}]`;
  const parts = [`loaded ${r.loaded.length} tensors from ${src}`];
  if (r.missing.length) parts.push(`missing (kept the model's value): ${r.missing.join(', ')}`);
  if (r.unexpected.length) parts.push(`unexpected (ignored): ${r.unexpected.join(', ')}`);
  if (r.mismatched.length) parts.push(`mis-shaped (kept the model's value): ${r.mismatched.join('; ')}`);
  return parts.join('; ');
}
