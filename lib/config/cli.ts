// Checks on CLI options that sit next to a config (run before the config is read or anything written).

/** A `--max-*` style limit: absent, or an integer >= 1 (0 or less would do nothing yet report success). */
export function positiveLimit(option: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${option} must be a positive integer, got ${value}`);
}
