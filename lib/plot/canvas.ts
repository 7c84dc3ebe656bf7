// An RGB raster with the few primitives the charts need (pixels, lines, rectangles, text).
import { encodePngRgb } from '../io/png.js';
import { GLYPH_H, GLYPH_W, glyph } from './font5x7.js';

export type RGB = [number, number, number];

export function parseColor(c: string | RGB): RGB {
  if (Array.isArray(c)) return c;
  const m = /^#?([0-9a-f]{6})$/i.exec(c);
  if (!m) throw new Error(`plot: colour must be #rrggbb, got ${JSON.stringify(c)}`);
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

export class Canvas {
  readonly rgb: Uint8Array;
  constructor(readonly width: number, readonly height: number, background: RGB = [255, 255, 255]) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new Error(`plot: bad canvas size ${width}x${height}`);
    this.rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.rgb.set(background, i * 3);
  }

  set(x: number, y: number, c: RGB): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.rgb.set(c, (y * this.width + x) * 3);
  }

  get(x: number, y: number): RGB {
    const i = (y * this.width + x) * 3;
    return [this.rgb[i], this.rgb[i + 1], this.rgb[i + 2]];
  }

  fillRect(x: number, y: number, w: number, h: number, c: RGB): void {
    for (let yy = Math.max(0, y); yy < Math.min(this.height, y + h); yy++) {
      for (let xx = Math.max(0, x); xx < Math.min(this.width, x + w); xx++) this.rgb.set(c, (yy * this.width + xx) * 3);
    }
  }

  /** Bresenham line, `thick` pixels wide (square brush). */
  line(x0: number, y0: number, x1: number, y1: number, c: RGB, thick = 1): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    const r0 = -Math.floor((thick - 1) / 2);
    for (let guard = 0; guard < 100000; guard++) {
      for (let a = 0; a < thick; a++) for (let b = 0; b < thick; b++) this.set(x0 + r0 + a, y0 + r0 + b, c);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  text(x: number, y: number, s: string, c: RGB, scale = 1): void {
    let cx = Math.round(x);
    for (const ch of s) {
      const rows = glyph(ch);
      for (let r = 0; r < GLYPH_H; r++) {
        for (let col = 0; col < GLYPH_W; col++) {
          if (rows[r] & (1 << (GLYPH_W - 1 - col))) this.fillRect(cx + col * scale, Math.round(y) + r * scale, scale, scale, c);
        }
      }
      cx += (GLYPH_W + 1) * scale;
    }
  }

  /** Text rotated 90° counter-clockwise (for a y-axis label); (x, y) is the bottom-left corner. */
  textVertical(x: number, y: number, s: string, c: RGB): void {
    let cy = Math.round(y);
    for (const ch of s) {
      const rows = glyph(ch);
      for (let r = 0; r < GLYPH_H; r++) {
        for (let col = 0; col < GLYPH_W; col++) if (rows[r] & (1 << (GLYPH_W - 1 - col))) this.set(x + r, cy - col, c);
      }
      cy -= GLYPH_W + 1;
    }
  }

  blit(src: Canvas, ox: number, oy: number): void {
    for (let y = 0; y < src.height; y++) {
      const ty = oy + y;
      if (ty < 0 || ty >= this.height) continue;
      for (let x = 0; x < src.width; x++) {
        const tx = ox + x;
        if (tx < 0 || tx >= this.width) continue;
        const si = (y * src.width + x) * 3;
        this.rgb.set(src.rgb.subarray(si, si + 3), (ty * this.width + tx) * 3);
      }
    }
  }

  toPng(): Buffer {
    return encodePngRgb(this.width, this.height, this.rgb);
  }
}
