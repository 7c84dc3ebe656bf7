// The run's curves as one PNG next to the checkpoint: loss, lr/wd, collapse monitors.
import { writeFileSync, renameSync } from 'node:fs';
import { renderPanels } from '../plot/index.js';

export function writeTrainingPlot(path: string, rows: Record<string, number[]>): void {
  const it = rows['iteration'];
  if (!it || it.length < 2) return;
  const png = renderPanels([
    { title: 'loss', xlabel: 'iteration', series: [{ name: 'loss', xs: it, ys: rows['loss'] }, { name: 'loss-jepa', xs: it, ys: rows['loss-jepa'] }] },
    { title: 'learning rate', xlabel: 'iteration', series: [{ name: 'lr', xs: it, ys: rows['lr'] }] },
    { title: 'weight decay', xlabel: 'iteration', series: [{ name: 'wd', xs: it, ys: rows['wd'] }] },
    { title: 'EMA momentum', xlabel: 'iteration', series: [{ name: 'momentum', xs: it, ys: rows['momentum'] }] },
    {
      title: 'collapse monitors (std across tokens and batch)',
      xlabel: 'iteration',
      series: [{ name: 'target std', xs: it, ys: rows['target-std'] }, { name: 'prediction std', xs: it, ys: rows['pred-std'] }],
    },
    {
      title: 'effective rank (participation ratio of the features)',
      xlabel: 'iteration',
      series: [{ name: 'target encoder', xs: it, ys: rows['target-rank'] }, { name: 'context encoder', xs: it, ys: rows['ctx-rank'] }],
    },
  ]);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, png);
  renameSync(tmp, path);
}
