// Checks on CLI options that sit next to a config (run before the config is read or anything written).

/** A `--max-*` style limit: absent, or an integer >= 1 (0 or less would do nothing yet report success). */
export function positiveLimit(option: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${option} must be a positive integer, got ${value}`);
}

/**
 * yargs' .fail() for the CLIs: a usage error is one line that points at --help, and exit 1
 * (yargs' own prints the whole help text first, which buries the line that matters).
 */
export function usageFail(name: string): (msg: string | undefined, err: Error | undefined) => never {
  return (msg, err) => {
    console.error(`${name}: ${msg ?? err?.message ?? 'invalid arguments'} (see ${name} --help)`);
    process.exit(1);
  };
}
