// Bookkeeping shared by the GPU scripts (step.mjs, probe.mjs; dist.mjs finds their compiled imports): named values against tolerances,
// printed as one table, and a memory reading taken once finalizers have run.

/** memoryStats() after a few GC + event-loop turns, so dropped handles are really freed. */
export async function settled(gc, memoryStats) {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return memoryStats();
}

export class Checks {
  rows = [];
  failures = 0;

  /** A gated check: passes when value <= tol (NaN fails). */
  row(name, value, tol) {
    const ok = value <= tol;
    if (!ok) this.failures++;
    const shown = Number.isFinite(value) ? value.toExponential(2) : String(value);
    this.rows.push([name, shown, ok ? 'pass' : `FAIL (tol ${tol === 0 ? '0' : tol.toExponential(0)})`]);
  }

  /** An ungated line, for context. */
  info(name, value) {
    this.rows.push([name, value, '-']);
  }

  get gated() {
    return this.rows.filter((r) => r[2] !== '-').length;
  }

  print() {
    const w0 = Math.max(...this.rows.map((r) => r[0].length));
    console.log(`${'check'.padEnd(w0)}  ${'value'.padStart(9)}  result`);
    for (const [n, v, r] of this.rows) console.log(`${n.padEnd(w0)}  ${String(v).padStart(9)}  ${r}`);
  }
}
