import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inflateSync } from 'node:zlib';
import { crc32, encodePngRgb, PNG_SIGNATURE } from '../../lib/io/png.js';
import { formatTick, niceTicks, renderLineChart, renderPanels } from '../../lib/plot/index.js';

// Decodes the PNGs we write (RGB8, filter 0) and checks every chunk CRC.
function decode(png: Buffer): { w: number; h: number; rgb: Buffer } {
  assert.equal(png.subarray(0, 8), PNG_SIGNATURE);
  let p = 8;
  let w = 0, h = 0;
  const idat: Buffer[] = [];
  for (;;) {
    const len = png.readUInt32BE(p);
    const type = png.toString('latin1', p + 4, p + 8);
    const data = png.subarray(p + 8, p + 8 + len);
    assert.is(png.readUInt32BE(p + 8 + len), crc32(png.subarray(p + 4, p + 8 + len)), `${type} CRC`);
    if (type === 'IHDR') {
      w = data.readUInt32BE(0);
      h = data.readUInt32BE(4);
      assert.equal([data[8], data[9], data[12]], [8, 2, 0]);
    } else if (type === 'IDAT') idat.push(data);
    p += 12 + len;
    if (type === 'IEND') break;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    assert.is(raw[y * (w * 3 + 1)], 0);
    raw.copy(rgb, y * w * 3, y * (w * 3 + 1) + 1, (y + 1) * (w * 3 + 1));
  }
  return { w, h, rgb };
}

function count(img: { rgb: Buffer }, [r, g, b]: number[]): number {
  let n = 0;
  for (let i = 0; i < img.rgb.length; i += 3) if (img.rgb[i] === r && img.rgb[i + 1] === g && img.rgb[i + 2] === b) n++;
  return n;
}

test('png encoder: signature, IHDR, CRC, pixels round-trip', () => {
  const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]);
  const img = decode(encodePngRgb(2, 2, rgb));
  assert.equal([img.w, img.h], [2, 2]);
  assert.equal(Array.from(img.rgb), Array.from(rgb));
  assert.is(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.throws(() => encodePngRgb(2, 2, new Uint8Array(5)), /expected 12 RGB bytes/);
});

test('line chart: size, series colours drawn, legend, labels', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i);
  const png = renderLineChart({
    width: 400,
    height: 240,
    title: 'loss',
    xlabel: 'iteration',
    ylabel: 'L1',
    series: [
      { name: 'loss', xs, ys: xs.map((x) => 1 / (1 + x)), color: '#ff0000' },
      { name: 'lr', xs, ys: xs.map((x) => 0.5 + 0.001 * x), color: '#0000ff' },
    ],
  });
  const img = decode(png);
  assert.equal([img.w, img.h], [400, 240]);
  assert.ok(count(img, [255, 0, 0]) > 150, `red pixels ${count(img, [255, 0, 0])}`);
  assert.ok(count(img, [0, 0, 255]) > 150);
  assert.ok(count(img, [0, 0, 0]) > 300, 'axes and text are black');
  assert.ok(count(img, [255, 255, 255]) > 400 * 240 * 0.6, 'mostly background');
});

test('log-scale y skips non-positive values; panels stack vertically', () => {
  const xs = [1, 2, 3, 4];
  const chart = { width: 300, height: 150, logY: true, series: [{ name: 'lr', xs, ys: [1e-6, 0, 1e-4, 1e-3], color: '#00aa00' }] };
  const one = decode(renderLineChart(chart));
  assert.ok(count(one, [0, 170, 0]) > 50);
  const panels = decode(renderPanels([chart, { ...chart, width: 320, height: 100 }]));
  assert.equal([panels.w, panels.h], [320, 250]);
  assert.throws(() => renderPanels([]), /at least one chart/);
  assert.throws(() => renderLineChart({ series: [{ name: 'x', xs: [1, 2], ys: [1] }] }), /2 xs but 1 ys/);
  assert.throws(() => renderLineChart({ series: [{ name: 'x', xs: [1], ys: [1], color: 'red' }] }), /#rrggbb/);
});

test('tick helpers', () => {
  assert.equal(niceTicks(0, 1), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1].map((v) => v));
  assert.equal(niceTicks(0, 90000, 6), [0, 20000, 40000, 60000, 80000]);
  assert.equal([formatTick(0), formatTick(2.5e-4), formatTick(120000), formatTick(0.5)], ['0', '2.5e-4', '1.2e5', '0.5']);
});

test.run();
