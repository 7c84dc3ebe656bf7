// "Did you mean ...?" for mistyped config keys: the closest known key by edit distance.

/** Optimal-string-alignment distance: Levenshtein plus adjacent swaps ("optimziation"). */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) => Array.from({ length: n + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[m][n];
}

/**
 * The known key closest to `key`, or null when none is close enough to be a typo.
 * The allowance grows with length so short keys (lr, wd) do not match each other.
 */
export function closestKey(key: string, known: readonly string[]): string | null {
  const k = key.toLowerCase();
  const allowed = k.length <= 4 ? 1 : k.length <= 8 ? 2 : 3;
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of known) {
    const dist = editDistance(k, c.toLowerCase());
    if (dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  return bestD <= allowed ? best : null;
}
