export * from './canvas.js';
export * from './line-chart.js';
export { GLYPH_H, GLYPH_W, textWidth } from './font5x7.js';
