// How the config-reading CLIs (vjepa-train, vjepa-probe, vjepa-masks) treat --strict, meta.strict and
// their iteration limits; spawned on the compiled dist/bin/*.js.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { tinyRaw, tinySetup } from '../probe/helpers.js';

const bin = (name: string) => fileURLToPath(new URL(`../../bin/${name}.js`, import.meta.url));
const FIX = fileURLToPath(new URL('../../../test/config/fixtures/', import.meta.url));

function run(name: string, args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [bin(name), ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function yamlIn(dir: string, name: string, obj: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, YAML.stringify(obj));
  return p;
}

test('meta.strict: true in the file makes unknown keys errors in every CLI; --no-strict still overrides it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-cli-strict-'));
  const pre = YAML.parse(readFileSync(join(FIX, 'tiny.yaml'), 'utf8'));
  pre.meta.strict = true;
  pre.bogus = 1;
  pre.logging.folder = join(dir, 'run');
  pre.data.datasets = [join(dir, 'synth/train.csv')];
  pre.data.synthetic = { dir: join(dir, 'synth'), videos: 16, classes: 2, frames: 16, size: 64 };
  const preFile = yamlIn(dir, 'pre.yaml', pre);
  const probe = YAML.parse(readFileSync(join(FIX, 'probe_k400.yaml'), 'utf8'));
  probe.meta = { strict: true };
  probe.bogus = 1;
  const probeFile = yamlIn(dir, 'probe.yaml', probe);
  const cases: [string, string, string[]][] = [
    ['vjepa-train', preFile, []],
    ['vjepa-masks', preFile, ['--batches', '1']],
    ['vjepa-probe', probeFile, []],
  ];
  for (const [name, file, extra] of cases) {
    const r = run(name, [file, ...extra], dir);
    assert.is(r.status, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, `${name}: invalid config ${file} (1 problem):\n  ${file}: bogus: unknown key; known keys here: `);
  }
  assert.not.ok(existsSync(join(dir, 'run')));
  assert.not.ok(existsSync(join(dir, 'synth')));
  // An explicit --no-strict wins over the file: the key is only a warning again.
  const r = run('vjepa-masks', [preFile, '--batches', '1', '--json', '--no-strict'], dir);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, `warning: ${preFile}: bogus: unknown key; known keys here: `);
  assert.is(JSON.parse(r.stdout).masks.length, 2);
});

test('--max-iterations and --max-epochs below 1 are rejected by name before anything is written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-cli-limits-'));
  const pre = YAML.parse(readFileSync(join(FIX, 'tiny.yaml'), 'utf8'));
  pre.logging.folder = join(dir, 'run');
  pre.data.datasets = [join(dir, 'synth/train.csv')];
  pre.data.synthetic = { dir: join(dir, 'synth'), videos: 16, classes: 2, frames: 16, size: 64 };
  const preFile = yamlIn(dir, 'pre.yaml', pre);
  const probeFile = yamlIn(dir, 'probe.yaml', tinyRaw({ dir: join(dir, 'probe-out'), trainCsv: join(dir, 'train.csv'), valCsv: join(dir, 'val.csv') }));
  const cases: [string, string, string, string][] = [
    ['vjepa-train', preFile, '--max-iterations', '0'],
    ['vjepa-train', preFile, '--max-iterations', '-5'],
    ['vjepa-train', preFile, '--max-iterations', '2.5'],
    ['vjepa-probe', probeFile, '--max-epochs', '0'],
    ['vjepa-probe', probeFile, '--max-epochs', '-1'],
  ];
  for (const [name, file, opt, v] of cases) {
    const r = run(name, [file, opt, v], dir);
    assert.is(r.status, 1, `${name} ${opt} ${v}: ${r.stdout}${r.stderr}`);
    assert.is(r.stderr, `${name}: ${opt} must be a positive integer, got ${v}\n`);
    assert.is(r.stdout, '');
  }
  assert.equal(readdirSync(dir).sort(), ['pre.yaml', 'probe.yaml']);
});

test('vjepa-probe with pretrain.checkpoint=null warns about the random encoder once', async () => {
  const s = await tinySetup('vjepa-cli-random-');
  const file = yamlIn(s.dir, 'probe.yaml', tinyRaw(s, { 'optimization.num_epochs': 1 }));
  const r = run('vjepa-probe', [file, '--set', 'pretrain.checkpoint=null'], s.dir);
  assert.is(r.status, 0, r.stderr);
  const lines = (r.stdout + r.stderr).split('\n').filter((l) => l.includes('pretrain.checkpoint') && l.includes('null'));
  assert.is(lines.length, 1, lines.join('\n'));
  assert.ok(lines[0].startsWith('warning: '), lines[0]);
  assert.match(r.stdout, '(random-init encoder)');
});

test('a usage error is one line pointing at --help, exit 1, with no help dump', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-cli-usage-'));
  const cases: [string, string[], string][] = [
    ['vjepa-train', [], 'vjepa-train: give the config file: vjepa-train CONFIG.yaml (see vjepa-train --help)'],
    ['vjepa-train', ['x.yaml', '--bogus'], 'vjepa-train: Unknown argument: bogus (see vjepa-train --help)'],
    ['vjepa-probe', ['x.yaml', '--bogus', '1'], 'vjepa-probe: Unknown argument: bogus (see vjepa-probe --help)'],
    ['vjepa-masks', [], 'vjepa-masks: Not enough non-option arguments: got 0, need at least 1 (see vjepa-masks --help)'],
    ['vjepa-embed', ['--config', 'c.yaml'], 'vjepa-embed: Missing required arguments: checkpoint, out (see vjepa-embed --help)'],
  ];
  for (const [name, args, want] of cases) {
    const r = run(name, args, dir);
    assert.is(r.status, 1, `${name} ${args.join(' ')}`);
    assert.is(r.stderr, want + '\n');
    assert.is(r.stdout, '');
  }
  assert.equal(readdirSync(dir), []);
});

test.run();
