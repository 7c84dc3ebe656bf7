// The PyTorch side of the bench: reference/bench_torch.py run in a subprocess, once per
// part, so ours and theirs are measured in the same run on the same machine; and small
// inline torch scripts for shapes the reference script does not cover.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const cache = new Map<string, any>();

function python(args: string[], timeoutMs: number): string | null {
  try {
    return execFileSync('python3', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  } catch (e) {
    // bench_torch.py exits 1 when one part failed but still prints its JSON
    const out = (e as { stdout?: string }).stdout;
    if (!out) process.stderr.write(`bench: python3 ${args[0]} failed: ${((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n').pop()}\n`);
    return out || null;
  }
}

/** The part's JSON from bench_torch.py, or null when torch (or the script) is unavailable or the part failed. */
export function torchReference(part: 'gemm' | 'attention' | 'layernorm' | 'step' | 'dispatch' | 'embed', threads: number): any | null {
  const key = `${part}/${threads}`;
  if (cache.has(key)) return cache.get(key);
  const script = join(ROOT, 'reference', 'bench_torch.py');
  let result: any = null;
  if (existsSync(script)) {
    const out = python([script, '--threads', String(threads), '--json', '--only', part], 900_000);
    try {
      const parsed = JSON.parse(out ?? '');
      result = parsed[part] && !parsed[part].error ? parsed[part] : null;
      if (!result) process.stderr.write(`bench: torch reference for ${part} failed: ${JSON.stringify(parsed[part]?.error)}\n`);
    } catch {
      result = null;
    }
  }
  cache.set(key, result);
  return result;
}

/** Runs `python3 -c script ...args` and reads the JSON object on its last line ({} when torch is unavailable). */
export function torchInline(script: string, args: string[], timeoutMs = 600_000): Record<string, number> {
  const out = python(['-c', script, ...args], timeoutMs);
  try {
    const obj = JSON.parse((out ?? '').trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    return Object.fromEntries(Object.entries(obj).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  } catch {
    return {};
  }
}
