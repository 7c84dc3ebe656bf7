// One row of `npm run bench`: our figure, the reference's figure from the same run, and
// their ratio (> 1 means we are better, whatever the unit's direction).
export interface BenchRow {
  group: string; // 'gemm' | 'attention' | 'layernorm' | 'loader' | 'step' | ...
  name: string; // e.g. '4096x384x384'
  unit: string; // e.g. 'GFLOP/s', 'ms', 'clips/s'
  ours: number;
  reference: number | null; // null when the reference could not run (e.g. no torch)
  referenceName: string; // e.g. 'torch.mm fp32', 'ffmpeg decode ceiling'
  higherIsBetter: boolean;
}

export function ratio(r: BenchRow): number | null {
  if (r.reference === null || !(r.reference > 0) || !(r.ours > 0)) return null;
  return r.higherIsBetter ? r.ours / r.reference : r.reference / r.ours;
}

/** The table a bench file prints when run on its own. */
export function printRows(rows: BenchRow[], header: string, digits: number): void {
  const w = Math.max(header.length, ...rows.map((r) => r.name.length));
  console.log(`${header.padEnd(w)}  ${'ours'.padStart(9)}  ${'torch'.padStart(9)}  ${'ratio'.padStart(6)}  (${rows[0]?.unit ?? ''})`);
  for (const r of rows) {
    const q = ratio(r);
    const ref = r.reference === null ? '-' : r.reference.toFixed(digits);
    console.log(`${r.name.padEnd(w)}  ${r.ours.toFixed(digits).padStart(9)}  ${ref.padStart(9)}  ${(q === null ? '-' : q.toFixed(2)).padStart(6)}`);
  }
}
