// Per-sample results of a scoring pass (vjepa-probe --eval-only): each val video's (or image's)
// prediction by EVAL-04's rule (the argmax of the softmax averaged over the classifier calls), its
// top 5 and probabilities; per-class accuracy and top-5 for the results JSON.
import { writeFileAtomic } from '../io/atomic.js';
import { argmaxRows, averageProbabilities } from './aggregate.js';

export interface ClassTally {
  label: number;
  samples: number;
  correct: number;
  /** correct / samples, in % */
  top1: number;
}

export interface PredictionSummary {
  /** % of samples whose label is among the 5 most probable classes (all of them when C <= 5) */
  top5: number;
  /** classes with at least one sample, by label */
  perClass: ClassTally[];
}

const TOP = 5;

/** A path as one CSV field: quoted when it holds a comma, a quote or a line break. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The k most probable classes, first maximum first as the argmax (a stable sort by probability),
 * by insertion: sorting all C classes per sample took 12 s over ImageNet's 50k val images.
 */
export function topK(row: ArrayLike<number>, k: number): number[] {
  const top: number[] = [];
  for (let c = 0; c < row.length; c++) {
    if (top.length === k && !(row[c] > row[top[k - 1]])) continue;
    let at = top.length;
    while (at > 0 && row[c] > row[top[at - 1]]) at--;
    top.splice(at, 0, c);
    if (top.length > k) top.pop();
  }
  return top;
}

export class Predictions {
  private readonly lines: string[] = ['path,label,prediction,correct,p_prediction,p_label,top5'];
  private readonly samples = new Map<number, { samples: number; correct: number }>();
  private inTop5 = 0;
  private seen = 0;

  constructor(readonly numClasses: number) {}

  /** One batch: the calls' logits [calls·B, C] (call-major), labels [B], the samples' files. */
  add(logits: Float32Array, labels: Int32Array, paths: readonly string[] | undefined): void {
    const B = labels.length;
    const C = this.numClasses;
    const calls = logits.length / (B * C);
    if (!Number.isInteger(calls) || calls < 1) throw new Error(`Predictions: ${logits.length} logits for ${B} samples of ${C} classes`);
    const p = averageProbabilities(Array.from({ length: calls }, (_, i) => logits.subarray(i * B * C, (i + 1) * B * C)), B, C);
    const pred = argmaxRows(p, B, C);
    for (let b = 0; b < B; b++) {
      const row = p.subarray(b * C, (b + 1) * C);
      const top = topK(row, TOP);
      const label = labels[b];
      const ok = pred[b] === label;
      if (top.includes(label)) this.inTop5++;
      this.seen++;
      const t = this.samples.get(label) ?? { samples: 0, correct: 0 };
      t.samples++;
      if (ok) t.correct++;
      this.samples.set(label, t);
      const path = paths?.[b] ?? '';
      const pLabel = label >= 0 && label < C ? row[label] : NaN;
      this.lines.push([csvField(path), label, pred[b], ok ? 1 : 0, row[pred[b]].toPrecision(6), pLabel.toPrecision(6), top.join(' ')].join(','));
    }
  }

  get length(): number {
    return this.seen;
  }

  summary(): PredictionSummary {
    const perClass = [...this.samples.entries()]
      .sort(([a], [b]) => a - b)
      .map(([label, t]) => ({ label, samples: t.samples, correct: t.correct, top1: (100 * t.correct) / t.samples }));
    return { top5: this.seen ? (100 * this.inTop5) / this.seen : 0, perClass };
  }

  /** The CSV, written whole or not at all. */
  write(file: string): void {
    writeFileAtomic(file, [new TextEncoder().encode(this.lines.join('\n') + '\n')]);
  }
}
