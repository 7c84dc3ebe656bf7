// The PyTorch side of the bench: reference/bench_torch.py run in a subprocess, once per
// part, so ours and theirs are measured in the same run on the same machine.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const cache = new Map<string, any>();

/** The part's JSON from bench_torch.py, or null (with the reason on stderr) when torch is unavailable. */
export function torchReference(part: 'gemm' | 'attention' | 'layernorm' | 'step', threads: number): any | null {
  const key = `${part}/${threads}`;
  if (cache.has(key)) return cache.get(key);
  const script = join(ROOT, 'reference', 'bench_torch.py');
  let result: any = null;
  if (existsSync(script)) {
    const r = spawnSync('python3', [script, '--threads', String(threads), '--json', '--only', part], { encoding: 'utf8', timeout: 900_000 });
    try {
      const parsed = JSON.parse(r.stdout);
      result = parsed[part] && !parsed[part].error ? parsed[part] : null;
      if (!result) process.stderr.write(`bench: torch reference for ${part} failed: ${JSON.stringify(parsed[part]?.error ?? r.stderr.slice(-300))}\n`);
    } catch {
      process.stderr.write(`bench: torch reference for ${part} unavailable (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})\n`);
    }
  }
  cache.set(key, result);
  return result;
}
