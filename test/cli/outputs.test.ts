// An output path that names one of the run's own inputs is refused before anything is written:
// the input stays byte for byte as it was.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEmbed } from '../../lib/embed/index.js';
import { prepareVideos } from '../../lib/data/prepare.js';

const dir = mkdtempSync(join(tmpdir(), 'vjepa-outputs-'));

test('vjepa-embed: --out may not be its checkpoint, config, --input, --context-idx or --csv', async () => {
  const files = Object.fromEntries(['ck.safetensors', 'cfg.yaml', 'in.npy', 'idx.npy', 'list.csv'].map((n) => [n, join(dir, n)]));
  for (const f of Object.values(files)) writeFileSync(f, `keep ${f}`);
  const base = { checkpoint: files['ck.safetensors'], config: files['cfg.yaml'], log: () => {} };
  const cases: [string, Parameters<typeof runEmbed>[0]][] = [
    ['--checkpoint', { ...base, input: files['in.npy'], out: files['ck.safetensors'] }],
    ['--config', { ...base, input: files['in.npy'], out: files['cfg.yaml'] }],
    ['--input', { ...base, input: files['in.npy'], out: files['in.npy'] }],
    ['--context-idx', { ...base, input: files['in.npy'], contextIdx: files['idx.npy'], out: join(dir, '.', 'idx.npy') }],
    ['--csv', { ...base, csv: [files['list.csv']], out: files['list.csv'] }],
  ];
  for (const [flag, o] of cases) {
    try {
      await runEmbed(o);
      assert.unreachable(flag);
    } catch (e) {
      assert.match((e as Error).message, new RegExp(`^--out .* is the ${flag} file itself; write the features elsewhere$`));
    }
  }
  for (const f of Object.values(files)) assert.is(readFileSync(f, 'utf8'), `keep ${f}`);
});

test('vjepa-data prepare: the output CSV may not be the input CSV, nor an output video its source', async () => {
  const vids = join(dir, 'vids');
  mkdirSync(vids);
  writeFileSync(join(vids, 'a.mp4'), 'not a video');
  const csv = join(dir, 'in.csv');
  writeFileSync(csv, `${join(vids, 'a.mp4')} 0\n`);
  copyFileSync(csv, join(dir, 'in.copy'));
  await prepareVideos({ csv, outDir: join(dir, 'out'), outCsv: csv, shortSide: 16 }).then(
    () => assert.unreachable('out-csv'),
    (e: Error) => assert.match(e.message, /^prepare: the output CSV .*in\.csv is the input --csv itself; give --out-csv or another --out$/),
  );
  await prepareVideos({ csv, outDir: vids, outCsv: join(dir, 'o.csv'), shortSide: 16 }).then(
    () => assert.unreachable('out over sources'),
    (e: Error) => assert.match(e.message, /^prepare: .*a\.mp4 would be written over its own source/),
  );
  assert.is(readFileSync(csv, 'utf8'), readFileSync(join(dir, 'in.copy'), 'utf8'));
  assert.is(readFileSync(join(vids, 'a.mp4'), 'utf8'), 'not a video');
});

test.run();
