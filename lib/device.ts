// Device selection for every command (meta.device, --device): the setting checked and resolved
// to 'cpu' or 'cuda:N' before anything is built, and the line that names it in the log.
import { native } from './native.js';
import { Tensor } from './tensor.js';

/**
 * Checks a device setting (meta.device, or `what` names another option) and returns the device
 * tensors should use: 'cpu' or 'cuda:N'. Callers without a CUDA path leave cudaSupported false
 * and get a clear error on a GPU machine too.
 */
export function selectDevice(device: string, opts: { cudaSupported?: boolean; what?: string } = {}): string {
  const what = opts.what ?? 'meta.device';
  if (device === 'cpu') return 'cpu';
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (!m) throw new Error(`${what}: expected 'cpu', 'cuda' or 'cuda:N', got '${device}'`);
  const info = native.cudaInfo();
  if (!info.available) throw new Error(`${what}: '${device}' was asked for, but ${info.reason}`);
  if (!opts.cudaSupported)
    throw new Error(`${what}: '${device}': this command has no CUDA path in this release yet; use cpu`);
  const resolved = `cuda:${m[1] ?? 0}`;
  // A bad index (cuda:3 on a one-GPU box) fails here, with the driver's reason, not mid-build.
  try {
    Tensor.empty([1], 'float32', resolved).dispose();
  } catch (e) {
    throw new Error(`${what}: '${device}' cannot be used: ${(e as Error).message}`);
  }
  return resolved;
}

/** "cuda:0 (NVIDIA H200, sm_90, 139.8 GiB)" for the log. */
export function describeDevice(device: string): string {
  const m = /^cuda:(\d+)$/.exec(device);
  if (!m) return device;
  const d = native.cudaDevice(Number(m[1]));
  return `${device} (${d.name}, sm_${d.major}${d.minor}, ${(d.totalBytes / 2 ** 30).toFixed(1)} GiB)`;
}
