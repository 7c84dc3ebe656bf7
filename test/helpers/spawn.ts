// A Node script run as a child process: its exit code and its stdout and stderr interleaved as they came.
import { spawn } from 'node:child_process';

export async function runNode(script: string, args: string[] = [], env?: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  const p = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const code = (await new Promise((res) => p.on('close', res))) as number;
  return { code, out };
}
