// Line charts rasterised to PNG (loss / lr / collapse-monitor curves): axes, "nice" ticks with
// labels, several series with a legend, optional log-scale y axis; renderPanels stacks charts.
import { Canvas, parseColor, type RGB } from './canvas.js';
import { GLYPH_H, textWidth } from './font5x7.js';

export interface Series {
  name: string;
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
  /** #rrggbb; defaults to a palette colour. */
  color?: string;
}

export interface LineChartSpec {
  width?: number;
  height?: number;
  title?: string;
  series: Series[];
  xlabel?: string;
  ylabel?: string;
  logY?: boolean;
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const BLACK: RGB = [0, 0, 0];
const GRID: RGB = [225, 225, 225];

/** Tick values covering [lo, hi] at a 1/2/5 x 10^k step. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential(1).split('e');
    return `${m.replace(/\.0$/, '')}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(4)));
}

function drawChart(c: Canvas, ox: number, oy: number, w: number, h: number, spec: LineChartSpec): void {
  const logY = !!spec.logY;
  const pts = spec.series.map((s, i) => {
    if (s.xs.length !== s.ys.length) throw new Error(`plot: series "${s.name}" has ${s.xs.length} xs but ${s.ys.length} ys`);
    const color = parseColor(s.color ?? PALETTE[i % PALETTE.length]);
    const p: [number, number][] = [];
    for (let k = 0; k < s.xs.length; k++) {
      const x = s.xs[k];
      let y = s.ys[k];
      if (!Number.isFinite(x) || !Number.isFinite(y) || (logY && y <= 0)) continue;
      if (logY) y = Math.log10(y);
      p.push([x, y]);
    }
    return { name: s.name, color, p };
  });
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of pts) for (const [x, y] of s.p) (x0 = Math.min(x0, x)), (x1 = Math.max(x1, x)), (y0 = Math.min(y0, y)), (y1 = Math.max(y1, y));
  if (!Number.isFinite(x0)) (x0 = 0), (x1 = 1), (y0 = 0), (y1 = 1);
  if (x1 === x0) (x0 -= 0.5), (x1 += 0.5);
  if (y1 === y0) (y0 -= logY ? 0.5 : Math.abs(y0) * 0.1 || 0.5), (y1 += logY ? 0.5 : Math.abs(y1) * 0.1 || 0.5);
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;

  const yTicks = logY ? Array.from({ length: Math.floor(y1) - Math.ceil(y0) + 1 }, (_, i) => Math.ceil(y0) + i) : niceTicks(y0, y1);
  const yLabels = yTicks.map((t) => formatTick(logY ? 10 ** t : t));
  const left = ox + 8 + (spec.ylabel ? 10 : 0) + Math.max(0, ...yLabels.map((l) => textWidth(l))) + 4;
  const top = oy + (spec.title ? 16 : 6);
  const right = ox + w - 10;
  const bottom = oy + h - (spec.xlabel ? 26 : 16);
  if (right - left < 10 || bottom - top < 10) throw new Error(`plot: chart ${w}x${h} is too small`);
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
  const py = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);

  if (spec.title) c.text(ox + (w - textWidth(spec.title)) / 2, oy + 4, spec.title, BLACK);
  yTicks.forEach((t, i) => {
    const y = py(t);
    if (y < top - 0.5 || y > bottom + 0.5) return;
    c.line(left, y, right, y, GRID);
    c.line(left - 3, y, left, y, BLACK);
    c.text(left - 5 - textWidth(yLabels[i]), y - 3, yLabels[i], BLACK);
  });
  for (const t of niceTicks(x0, x1, 6)) {
    const x = px(t);
    if (x < left - 0.5 || x > right + 0.5) continue;
    c.line(x, top, x, bottom, GRID);
    c.line(x, bottom, x, bottom + 3, BLACK);
    const l = formatTick(t);
    c.text(x - textWidth(l) / 2, bottom + 5, l, BLACK);
  }
  c.line(left, top, left, bottom, BLACK);
  c.line(left, bottom, right, bottom, BLACK);
  if (spec.xlabel) c.text(left + (right - left - textWidth(spec.xlabel)) / 2, oy + h - 9, spec.xlabel, BLACK);
  if (spec.ylabel) c.textVertical(ox + 2, top + (bottom - top + textWidth(spec.ylabel)) / 2, spec.ylabel, BLACK);

  for (const s of pts) {
    for (let k = 1; k < s.p.length; k++) c.line(px(s.p[k - 1][0]), py(s.p[k - 1][1]), px(s.p[k][0]), py(s.p[k][1]), s.color, 2);
    if (s.p.length === 1) c.fillRect(Math.round(px(s.p[0][0])) - 1, Math.round(py(s.p[0][1])) - 1, 3, 3, s.color);
  }
  // Legend, top-right inside the plot area.
  const lw = Math.max(0, ...pts.map((s) => textWidth(s.name))) + 22;
  let ly = top + 4;
  const lx = right - lw - 4;
  if (pts.length > 0) c.fillRect(lx - 3, ly - 3, lw + 6, pts.length * (GLYPH_H + 4) + 4, [255, 255, 255]);
  for (const s of pts) {
    c.fillRect(lx, ly + 2, 14, 3, s.color);
    c.text(lx + 18, ly, s.name, BLACK);
    ly += GLYPH_H + 4;
  }
}

export function renderLineChartCanvas(spec: LineChartSpec): Canvas {
  const w = spec.width ?? 640;
  const h = spec.height ?? 360;
  const c = new Canvas(w, h);
  drawChart(c, 0, 0, w, h, spec);
  return c;
}

/** One chart as a PNG file (Buffer). */
export function renderLineChart(spec: LineChartSpec): Buffer {
  return renderLineChartCanvas(spec).toPng();
}

/** Several charts stacked vertically in one PNG (width = widest chart). */
export function renderPanels(charts: LineChartSpec[]): Buffer {
  if (charts.length === 0) throw new Error('plot: renderPanels needs at least one chart');
  const canvases = charts.map(renderLineChartCanvas);
  const W = Math.max(...canvases.map((c) => c.width));
  const H = canvases.reduce((s, c) => s + c.height, 0);
  const out = new Canvas(W, H);
  let y = 0;
  for (const c of canvases) {
    out.blit(c, 0, y);
    y += c.height;
  }
  return out.toPng();
}
