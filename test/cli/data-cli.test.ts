// bin/vjepa-data errors: one `vjepa-data: <message>` line and exit 1, no help dump, no stack trace,
// and nothing written (spawned on the compiled dist/bin/vjepa-data.js).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/vjepa-data.js', import.meta.url));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('bad synth options: one line naming the option, exit 1, output folder not created', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'vjepa-data-cli-')), 's1');
  const cases: [string[], string][] = [
    [['--size', '97x61'], '--size 97x61: width and height must be even and at least 8 (H.264 yuv420p)'],
    [['--size', 'big'], '--size must look like WxH (got "big")'],
    [['--videos', '0'], '--videos must be an integer >= 1, got 0'],
    [['--videos', '1.5'], '--videos must be an integer >= 1, got 1.5'],
    [['--val-videos', '0'], '--val-videos must be an integer >= 1, got 0'],
    [['--classes', '0'], '--classes must be an integer >= 2, got 0'],
    [['--frames', '-2'], '--frames must be an integer >= 1, got -2'],
    [['--fps', '0'], '--fps must be > 0, got 0'],
    [['--seed', 'x'], '--seed must be an integer, got NaN'],
  ];
  for (const [args, msg] of cases) {
    const r = run(['synth', '--out', out, ...args]);
    assert.is(r.status, 1, args.join(' '));
    assert.is(r.stderr, `vjepa-data: ${msg}\n`);
    assert.is(r.stdout, '');
  }
  assert.not.ok(existsSync(out));
});

test('synth: a folder that holds a dataset is not written over without --overwrite', () => {
  const out = mkdtempSync(join(tmpdir(), 'vjepa-data-cli-'));
  writeFileSync(join(out, 'train.csv'), '/data/k400/a.mp4 3\n');
  const r = run(['synth', '--out', out, '--videos', '2']);
  assert.is(r.status, 1);
  assert.is(r.stderr, `vjepa-data: --out ${out} already holds a dataset (train.csv); choose another folder or add --overwrite\n`);
  assert.is(readFileSync(join(out, 'train.csv'), 'utf8'), '/data/k400/a.mp4 3\n');
});

test('prepare: missing --csv, a CSV that does not exist and bad numbers are one line each', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-data-cli-'));
  const out = join(dir, 'out');
  const csv = join(dir, 'nope.csv');
  const cases: [string[], string][] = [
    [['prepare', '--out', out], 'Missing required argument: csv (see vjepa-data prepare --help)'],
    [['prepare', '--out', out, '--csv', csv], `--csv ${csv}: file not found`],
    [['prepare', '--out', out, '--csv', BIN, '--short-side', '4'], '--short-side must be an integer >= 8, got 4'],
    [['prepare', '--out', out, '--csv', BIN, '--crf', '60'], '--crf must be an integer from 0 to 51, got 60'],
    [['prepare', '--out', out, '--csv', BIN, '--jobs', '0'], '--jobs must be an integer >= 1, got 0'],
  ];
  for (const [args, msg] of cases) {
    const r = run(args);
    assert.is(r.status, 1, args.join(' '));
    assert.is(r.stderr, `vjepa-data: ${msg}\n`);
    assert.is(r.stdout, '');
  }
  assert.not.ok(existsSync(out));
});

const NO_DATA = join(mkdtempSync(join(tmpdir(), 'vjepa-data-cli-')), 'no-data.yaml');
writeFileSync(NO_DATA, 'meta:\n  seed: 1\n');

test('usage errors are brief; --help still prints the help', () => {
  const cases: [string[], string][] = [
    [[], 'give a command: synth, prepare or count (see vjepa-data --help)'],
    [['bogus'], 'Unknown argument: bogus (see vjepa-data --help)'],
    [['synth'], 'Missing required argument: out (see vjepa-data synth --help)'],
    [['synth', '--out', '/tmp/x', '--colour', 'red'], 'Unknown argument: colour (see vjepa-data synth --help)'],
    [['count'], 'give --csv FILE or --config CONFIG.yaml'],
    [['count', '--config', NO_DATA], `--config ${NO_DATA}: no data.datasets, data.dataset_train or data.dataset_val`],
    [['count', '--config', BIN], `--config ${BIN}: Implicit keys need to be on a single line at line 2, column 1:`],
    [['count', '--csv', '/nope/a.csv'], '--csv /nope/a.csv: file not found'],
    [['count', '--csv', BIN, '--jobs', '0'], '--jobs must be an integer >= 1, got 0'],
  ];
  for (const [args, msg] of cases) {
    const r = run(args);
    assert.is(r.status, 1, args.join(' '));
    assert.is(r.stderr, `vjepa-data: ${msg}\n`);
  }
  const h = run(['synth', '--help']);
  assert.is(h.status, 0);
  assert.match(h.stdout, '--size');
});

test.run();
