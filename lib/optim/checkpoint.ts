// AdamW state in checkpoint files, shared by the pretraining and probe checkpoints: moments as
// `opt.exp_avg.<param>` / `opt.exp_avg_sq.<param>` tensors, step counts as JSON metadata.
import { toFloat32, type HostTensor } from '../io/host-tensor.js';
import { isHostTensor } from '../io/torch-pickle.js';
import type { AdamW } from './adamw.js';

/** Adds the moments to `tensors`; returns the `opt_steps` metadata value. */
export function exportOptimizerState(opt: AdamW, tensors: Map<string, HostTensor>): string {
  const steps: Record<string, number> = {};
  for (const [name, slot] of opt.state()) {
    tensors.set(`opt.exp_avg.${name}`, { dtype: 'float32', shape: [...slot.m.shape], data: slot.m.toFloat32Array() });
    tensors.set(`opt.exp_avg_sq.${name}`, { dtype: 'float32', shape: [...slot.v.shape], data: slot.v.toFloat32Array() });
    steps[name] = slot.step;
  }
  return JSON.stringify(steps);
}

/** Restores what exportOptimizerState wrote; `path` names the file in errors. */
export function loadOptimizerState(opt: AdamW, tensors: Map<string, HostTensor>, optSteps: string | undefined, path: string): void {
  const steps = JSON.parse(optSteps ?? '{}') as Record<string, number>;
  const st = new Map<string, { m: Float32Array; v: Float32Array; step: number }>();
  for (const [name, step] of Object.entries(steps)) {
    const m = tensors.get(`opt.exp_avg.${name}`);
    const v = tensors.get(`opt.exp_avg_sq.${name}`);
    if (!m || !v) throw new Error(`${path}: optimizer state for ${name} is incomplete`);
    st.set(name, { m: m.data as Float32Array, v: v.data as Float32Array, step });
  }
  opt.loadState(st);
}

/**
 * Restores torch.optim.AdamW's state_dict() (`{state: {id: {step, exp_avg, exp_avg_sq}}, param_groups:
 * [{params: [id, ...]}, ...]}`) given the parameter names of each of its groups, in order. Ids without state
 * (parameters that never had a gradient) are skipped, as torch skips them; one with state but no place in
 * `opt` is an error. Returns the number of tensors restored.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadTorchAdamWState(opt: AdamW, torchState: any, groupNames: string[][], path: string): number {
  const groups = torchState?.param_groups;
  const state = torchState?.state;
  if (!Array.isArray(groups) || typeof state !== 'object' || state === null)
    throw new Error(`${path}: opt is not an optimizer state_dict (no param_groups / state)`);
  if (groups.length !== groupNames.length)
    throw new Error(`${path}: opt has ${groups.length} parameter groups; the original's AdamW has ${groupNames.length} (TRAIN-04)`);
  const ours = new Set(opt.groups.flatMap((g) => g.params.map(([n]) => n)));
  const out = new Map<string, { m: Float32Array; v: Float32Array; step: number }>();
  groups.forEach((g, i) => {
    const ids: unknown[] = Array.isArray(g?.params) ? g.params : [];
    if (ids.length !== groupNames[i].length)
      throw new Error(`${path}: opt group ${i} has ${ids.length} parameters; the state dicts give ${groupNames[i].length} for it (not the original's AdamW groups?)`);
    ids.forEach((id, j) => {
      const s = state[String(id)];
      if (!s) return;
      const name = groupNames[i][j];
      if (!ours.has(name)) throw new Error(`${path}: opt holds state for ${name}, which is not a trainable parameter here`);
      const m = s.exp_avg;
      const v = s.exp_avg_sq;
      if (!isHostTensor(m) || !isHostTensor(v)) throw new Error(`${path}: opt state of ${name} lacks exp_avg / exp_avg_sq`);
      out.set(name, { m: toFloat32(m), v: toFloat32(v), step: stepOf(s.step, name, path) });
    });
  });
  opt.loadState(out);
  return out.size;
}

// torch >= 1.12 keeps the step as a 0-d tensor, older versions as a number.
function stepOf(step: unknown, name: string, path: string): number {
  const n = isHostTensor(step) ? Number((step.data as ArrayLike<number | bigint>)[0]) : Number(step);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${path}: opt step of ${name} is ${String(step)}`);
  return n;
}
