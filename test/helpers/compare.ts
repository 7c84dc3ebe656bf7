// Shared assertions for numeric tests: error relative to the reference's largest magnitude,
// so near-zero entries do not dominate (the llm.c debug-state comparison).
import * as assert from 'uvu/assert';

export function maxRelError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
  }
  return maxAbs === 0 ? maxDiff : maxDiff / maxAbs;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): number {
  const e = maxRelError(actual, expected);
  assert.ok(e <= tol, `${what}: relative error ${e.toExponential(3)} > ${tol}`);
  return e;
}
