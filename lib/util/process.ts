/** Whether a process with this pid exists (one of another user's counts: EPERM). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The parent's node flags for a child that runs a script of its own: without the inline program
 * of `node -e` / `-p` (which fork() would otherwise run in the child instead of its script: the
 * child would start the loader again) and without --input-type, which node refuses with a file.
 */
export function scriptExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '-pe' || a === '--input-type') {
      i++;  // and its value
      continue;
    }
    if (/^(--eval|--print|--input-type)=/.test(a) || a === '-i' || a === '--interactive') continue;
    out.push(a);
  }
  return out;
}

/**
 * fn() with an environment variable set, then restored. The addon reads its VJEPA_CUDA_ATTN_*
 * switches at each call, so one process can run (and time) each setting in turn.
 */
export function withEnv<T>(name: string, value: string, fn: () => T): T {
  const before = process.env[name];
  process.env[name] = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}
