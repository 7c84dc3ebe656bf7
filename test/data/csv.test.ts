import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIndexCsv, readVideoIndex } from '../../lib/data/csv.js';
import { tempDir } from './helpers.js';

test('DATA-01 CSV: trailing whitespace and doubled separators are tolerated; paths keep inner spaces', () => {
  const r = parseIndexCsv('/a.mp4 1 \n/b c.mp4  2\t\n/d.mp4\t3\r\n\n  \n/e  f.mp4 4', 'x.csv');
  assert.equal(r.paths, ['/a.mp4', '/b c.mp4', '/d.mp4', '/e  f.mp4']);
  assert.equal(r.labels, [1, 2, 3, 4]);
  assert.equal(r.lines, [1, 2, 3, 6]);
  // a stray third column still makes the label the last token (the path then names no file)
  assert.equal(parseIndexCsv('b_vp9.webm 1 2\n', '/i/x.csv').paths, ['/i/b_vp9.webm 1']);
  assert.throws(() => parseIndexCsv('/a.mp4 1\n/b.mp4   \n', 'idx.csv'), /^idx\.csv:2: expected "path label" separated by a space, got "\/b\.mp4"$/);
  assert.throws(() => parseIndexCsv('   7\n', 'idx.csv'), /^idx\.csv:1: empty path$/);
});

test('readVideoIndex: missing videos are kept and reported once, with file:line and the quoted path looked for', () => {
  const { dir, cleanup } = tempDir('csv');
  try {
    for (const f of ['a.mp4', 'b_vp9.webm']) writeFileSync(join(dir, f), 'x');
    const one = join(dir, 'one.csv');
    const two = join(dir, 'two.csv');
    writeFileSync(one, 'a.mp4 0\nb_vp9.webm 1 2\n');
    writeFileSync(two, '\n/nonexistent/c d.mp4 1\na.mp4 3 \n');
    const warnings: string[] = [];
    const idx = readVideoIndex([one, two], undefined, { warnMissing: (m) => warnings.push(m) });
    assert.equal(idx.paths, [join(dir, 'a.mp4'), join(dir, 'b_vp9.webm 1'), '/nonexistent/c d.mp4', join(dir, 'a.mp4')]);
    assert.equal(Array.from(idx.labels), [0, 2, 1, 3]);
    assert.equal(idx.perFileCounts, [2, 2]);
    assert.equal(idx.missing, [
      { file: one, line: 2, path: join(dir, 'b_vp9.webm 1') },
      { file: two, line: 2, path: '/nonexistent/c d.mp4' },
    ]);
    assert.equal(warnings, [
      'data: 2 of 4 listed videos do not exist (they will be replaced by other samples when loaded):\n' +
        `  ${one}:2: "${join(dir, 'b_vp9.webm 1')}"\n` +
        `  ${two}:2: "/nonexistent/c d.mp4"`,
    ]);
    // without the option nothing is checked
    assert.equal(readVideoIndex([one, two]).missing, []);
    // all present: no warning
    const ok = join(dir, 'ok.csv');
    writeFileSync(ok, 'a.mp4 0\n');
    const silent: string[] = [];
    assert.equal(readVideoIndex([ok], undefined, { warnMissing: (m) => silent.push(m) }).missing, []);
    assert.equal(silent, []);
  } finally {
    cleanup();
  }
});

test('readVideoIndex: the missing-video warning lists the first 5 and counts the rest', () => {
  const { dir, cleanup } = tempDir('csv');
  try {
    const csv = join(dir, 'm.csv');
    writeFileSync(csv, Array.from({ length: 8 }, (_, i) => `/nope/v${i}.mp4 0`).join('\n') + '\n');
    const warnings: string[] = [];
    const idx = readVideoIndex([csv], 1, { warnMissing: (m) => warnings.push(m) });
    assert.is(idx.missing.length, 8);
    assert.is(warnings.length, 1);
    const lines = warnings[0].split('\n');
    assert.equal(lines, [
      'data: 8 of 8 listed videos do not exist (they will be replaced by other samples when loaded):',
      ...[0, 1, 2, 3, 4].map((i) => `  ${csv}:${i + 1}: "/nope/v${i}.mp4"`),
      '  ... and 3 more',
    ]);
  } finally {
    cleanup();
  }
});

test('readVideoIndex: beyond 20000 entries an even sample is looked for, and the warning says so', () => {
  const { dir, cleanup } = tempDir('csv');
  try {
    const csv = join(dir, 'big.csv');
    writeFileSync(csv, Array.from({ length: 30_001 }, (_, i) => `/nope/v${i}.mp4 0`).join('\n') + '\n');
    const warnings: string[] = [];
    const idx = readVideoIndex([csv], 1, { warnMissing: (m) => warnings.push(m) });
    assert.is(idx.paths.length, 30_001);
    assert.is(idx.missing.length, 15_001, 'every 2nd entry');
    assert.equal(idx.missing.slice(0, 2).map((m) => m.line), [1, 3]);
    assert.is(warnings[0].split('\n')[0], 'data: 15001 of 15001 checked (1 in 2 of 30001 listed) do not exist (they will be replaced by other samples when loaded):');
  } finally {
    cleanup();
  }
});

test('readVideoIndex: an index the size of Kinetics-400 or SSv2 (240k lines over two files) loads whole, in order', () => {
  const { dir, cleanup } = tempDir('csv');
  try {
    // 240k entries: a spread of them into push() overflowed the call stack ("Maximum call stack size exceeded")
    const a = join(dir, 'a.csv'), b = join(dir, 'b.csv');
    writeFileSync(a, Array.from({ length: 200_000 }, (_, i) => `/d/a${i}.mp4 ${i % 400}`).join('\n') + '\n');
    writeFileSync(b, Array.from({ length: 40_000 }, (_, i) => `/d/b${i}.mp4 ${i % 7}`).join('\n') + '\n');
    const idx = readVideoIndex([a, b], 400);
    assert.is(idx.paths.length, 240_000);
    assert.is(idx.labels.length, 240_000);
    assert.equal([idx.paths[0], idx.paths[199_999], idx.paths[200_000], idx.paths[239_999]], ['/d/a0.mp4', '/d/a199999.mp4', '/d/b0.mp4', '/d/b39999.mp4']);
    assert.equal([idx.labels[199_999], idx.labels[239_999]], [199_999 % 400, 39_999 % 7]);
  } finally {
    cleanup();
  }
});

test.run();
