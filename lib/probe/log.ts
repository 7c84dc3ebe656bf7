// The per-epoch probe CSV and curves. The original writes the header `epoch, loss, acc` over rows
// (epoch, train_acc, val_acc), so its "loss" column is train accuracy (§8.20); ours names each column.
import { existsSync, readFileSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
import { renderPanels } from '../plot/index.js';

export const PROBE_CSV_COLUMNS = ['epoch', 'train_loss', 'train_top1', 'val_loss', 'val_top1', 'val_top1_batch_mean', 'lr', 'wd', 'seconds'] as const;

export interface EpochRecord {
  epoch: number; // 1-based
  trainLoss: number;
  trainTop1: number;
  valLoss: number;
  valTop1: number;
  valTop1BatchMean: number;
  lr: number;
  wd: number;
  seconds: number;
}

export class ProbeCsv {
  constructor(readonly path: string) {}

  /** New file, or on resume keep the rows of the epochs already done. */
  open(doneEpochs: number): void {
    const header = PROBE_CSV_COLUMNS.join(',') + '\n';
    if (doneEpochs === 0 || !existsSync(this.path)) {
      writeFileSync(this.path, header);
      return;
    }
    const rows = readFileSync(this.path, 'utf8').split('\n').slice(1).filter((l) => l && Number(l.split(',')[0]) <= doneEpochs);
    writeFileSync(this.path, header + rows.map((l) => l + '\n').join(''));
  }

  append(r: EpochRecord): void {
    const f = (v: number) => v.toFixed(5);
    appendFileSync(
      this.path,
      [r.epoch, f(r.trainLoss), r.trainTop1.toFixed(3), f(r.valLoss), r.valTop1.toFixed(3), r.valTop1BatchMean.toFixed(3), r.lr.toExponential(6), r.wd.toExponential(6), r.seconds.toFixed(1)].join(',') + '\n',
    );
  }

  read(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const c of PROBE_CSV_COLUMNS) out[c] = [];
    if (!existsSync(this.path)) return out;
    for (const l of readFileSync(this.path, 'utf8').split('\n').slice(1)) {
      if (!l) continue;
      const cells = l.split(',');
      PROBE_CSV_COLUMNS.forEach((c, i) => out[c].push(Number(cells[i])));
    }
    return out;
  }
}

export function writeProbePlot(path: string, rows: Record<string, number[]>): void {
  const ep = rows['epoch'];
  if (!ep || ep.length < 1) return;
  const png = renderPanels([
    { title: 'top-1 (%)', xlabel: 'epoch', series: [{ name: 'train', xs: ep, ys: rows['train_top1'] }, { name: 'val', xs: ep, ys: rows['val_top1'] }] },
    { title: 'cross-entropy', xlabel: 'epoch', series: [{ name: 'train', xs: ep, ys: rows['train_loss'] }, { name: 'val', xs: ep, ys: rows['val_loss'] }] },
    { title: 'learning rate (end of epoch)', xlabel: 'epoch', series: [{ name: 'lr', xs: ep, ys: rows['lr'] }] },
  ]);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, png);
  renameSync(tmp, path);
}
