// AdamW state in checkpoint files, shared by the pretraining and probe checkpoints: moments as
// `opt.exp_avg.<param>` / `opt.exp_avg_sq.<param>` tensors, step counts as JSON metadata.
import type { HostTensor } from '../io/host-tensor.js';
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
