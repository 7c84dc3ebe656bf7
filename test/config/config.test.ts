import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { applySets, loadPretrainConfig, loadProbeConfig, parseSet, validatePretrainConfig } from '../../lib/config/index.js';
import { closestKey, editDistance } from '../../lib/config/suggest.js';

// CFG-01..05. Compiled to dist/test/config/; the YAML fixtures stay in the source tree.
const FIX = fileURLToPath(new URL('../../../test/config/fixtures/', import.meta.url));
const fx = (n: string) => join(FIX, n);
const tmp = mkdtempSync(join(tmpdir(), 'vjepa-cfg-'));
function writeYaml(name: string, obj: unknown): string {
  const p = join(tmp, name);
  writeFileSync(p, YAML.stringify(obj));
  return p;
}
const tinyRaw = () => YAML.parse(require_('tiny.yaml'));
function require_(n: string): string {
  return readFileSync(fx(n), 'utf8');
}

test('CFG-01: the shipped vitl16 config loads; ignored keys warn with a reason and are dropped', () => {
  const { config: c, warnings } = loadPretrainConfig(fx('vitl16.yaml'));
  assert.is(c.data.batch_size, 24);
  assert.is(c.optimization.ipe_scale, 1.25);
  assert.equal(c.optimization.ema, [0.998, 1.0]);
  assert.equal(c.optimization.betas, [0.9, 0.999]); // default
  assert.is(c.optimization.eps, 1e-8);
  assert.is(c.meta.save_every_freq, -1);
  assert.is(c.meta.skip_batches, -1);
  assert.is(c.meta.device, 'cpu');
  assert.is(c.data.mask_type, 'multiblock3d');
  assert.is(c.mask.length, 2);
  assert.is(c.mask[1].num_blocks, 2);
  assert.is(c.logging.checkpoint_every, null);
  assert.is((c.meta as any).use_sdpa, undefined);
  assert.is((c as any).nodes, undefined);
  for (const k of ['meta.use_sdpa', 'meta.eval_freq', 'data.decode_one_clip', 'nodes']) {
    assert.ok(warnings.some((w) => w.includes(`${k}: accepted but ignored:`)), `no warning for ${k}`);
  }
  assert.ok(warnings.every((w) => w.startsWith(fx('vitl16.yaml'))));
});

test('CFG-01: defaults exactly as the spec when keys are absent', () => {
  const raw = tinyRaw();
  delete raw.data_aug;
  delete raw.data.crop_size;
  delete raw.data.num_workers;
  delete raw.model.uniform_power;
  delete raw.optimization.ipe;
  delete raw.optimization.ipe_scale;
  delete raw.optimization.clip_grad;
  delete raw.meta.seed;
  delete raw.mask[0].max_temporal_keep;
  delete raw.mask[0].max_keep;
  const { config: c } = validatePretrainConfig(raw);
  assert.equal(c.data_aug, {
    auto_augment: false,
    motion_shift: false,
    random_resize_aspect_ratio: [3 / 4, 4 / 3],
    random_resize_scale: [0.3, 1.0],
    reprob: 0,
  });
  assert.is(c.data.crop_size, 224);
  assert.is(c.data.num_workers, 1);
  assert.is(c.data.dataset_type, 'VideoDataset');
  assert.is(c.model.uniform_power, true);
  assert.is(c.optimization.ipe, null);
  assert.is(c.optimization.ipe_scale, 1.0);
  assert.is(c.optimization.clip_grad, null);
  assert.is(c.meta.seed, 0);
  assert.is(c.mask[0].max_temporal_keep, 1.0);
  assert.is(c.mask[0].max_keep, null);
});

test('extensions: model overrides, device, threads, synthetic data, checkpoint_every', () => {
  const { config: c, warnings } = loadPretrainConfig(fx('tiny.yaml'));
  assert.is(warnings.length, 0, warnings.join('\n'));
  assert.is(c.model.depth, 6);
  assert.is(c.model.embed_dim, null);
  assert.is(c.meta.threads, 2);
  assert.equal(c.data.synthetic, { dir: 'data/synth', videos: 24, classes: 3, frames: 48, size: 96, fps: 24, seed: 0, scene: 'square' });
  assert.is(c.logging.checkpoint_every, 100);
  assert.is(c.logging.folder, 'runs/vjepa-tiny'); // relative paths are kept (resolved against cwd by consumers)
});

test('type and range errors name the file and key path; all problems are listed at once', () => {
  const raw = tinyRaw();
  raw.optimization.lr = 'abc';
  raw.data.batch_size = 0;
  raw.mask[1].aspect_ratio = [0.75];
  raw.meta.device = 'gpu';
  delete raw.model.pred_depth;
  const p = writeYaml('bad.yaml', raw);
  try {
    loadPretrainConfig(p);
    assert.unreachable('should throw');
  } catch (e) {
    const m = (e as Error).message;
    assert.match(m, `${p}: optimization.lr: expected a number, got "abc"`);
    assert.match(m, `${p}: data.batch_size: must be >= 1, got 0`);
    assert.match(m, `${p}: mask.1.aspect_ratio: expected 2 numbers, got 1`);
    assert.match(m, `${p}: meta.device: expected 'cpu', 'cuda' or 'cuda:N', got "gpu"`);
    assert.match(m, `${p}: model.pred_depth: required key is missing`);
    assert.match(m, '5 problems');
  }
});

test('unknown keys: warning with the full path, error in strict mode (option or meta.strict)', () => {
  const raw = tinyRaw();
  raw.optimization.lr_typo = 1;
  raw.mask[0].blocks = 3;
  const p = writeYaml('unknown.yaml', raw);
  const { warnings } = loadPretrainConfig(p);
  assert.ok(warnings.some((w) => w.startsWith(`${p}: optimization.lr_typo: unknown key`)));
  assert.ok(warnings.some((w) => w.startsWith(`${p}: mask.0.blocks: unknown key`)));
  assert.throws(() => loadPretrainConfig(p, [], { strict: true }), /optimization\.lr_typo: unknown key/);
  raw.meta.strict = true;
  const p2 = writeYaml('unknown-strict.yaml', raw);
  assert.throws(() => loadPretrainConfig(p2), /mask\.0\.blocks: unknown key/);
  assert.not.throws(() => loadPretrainConfig(p2, [], { strict: false }));
});

test('--set overrides are YAML-parsed and applied before validation', () => {
  const { config: c, warnings } = loadPretrainConfig(fx('tiny.yaml'), [
    'optimization.epochs=1',
    'mask.0.num_blocks=4',
    'mask.1.spatial_scale=[0.5, 0.6]',
    'meta.read_checkpoint=null',
    'logging.folder=/tmp/x=y',
    'optimization.lr=1e-3',
    'meta.device=cuda:1',
  ]);
  assert.is(c.optimization.epochs, 1);
  assert.is(c.mask[0].num_blocks, 4);
  assert.equal(c.mask[1].spatial_scale, [0.5, 0.6]);
  assert.is(c.meta.read_checkpoint, null);
  assert.is(c.logging.folder, '/tmp/x=y');
  assert.is(c.optimization.lr, 0.001);
  assert.is(c.meta.device, 'cuda:1');
  assert.is(warnings.length, 0);
  const r = loadPretrainConfig(fx('tiny.yaml'), ['optimization.nope=3']);
  assert.ok(r.warnings.some((w) => w.includes('optimization.nope: unknown key (from --set)')));
  assert.throws(() => loadPretrainConfig(fx('tiny.yaml'), ['optimization.nope=3'], { strict: true }), /optimization\.nope: unknown key \(from --set\)/);
  assert.throws(() => loadPretrainConfig(fx('tiny.yaml'), ['optimization.epochs=abc']), /optimization\.epochs: expected an integer, got "abc"/);
  assert.throws(() => loadPretrainConfig(fx('tiny.yaml'), ['noequals']), /expected key\.path=value/);
  assert.throws(() => loadPretrainConfig(fx('tiny.yaml'), ['mask.x.num_blocks=1']), /is a list; "x" is not an index/);
  assert.throws(() => loadPretrainConfig(fx('tiny.yaml'), ['optimization.lr.x=1']), /not a mapping or list/);
  assert.throws(() => parseSet('a=[1,'), /not a YAML scalar/);
  const obj: any = {};
  applySets(obj, ['a.b.0.c=1']);
  assert.equal(obj, { a: { b: [{ c: 1 }] } });
});

test('tube masking requires ratio per mask; ipe_scale < 1 and odd dtype warn', () => {
  assert.throws(() => loadPretrainConfig(fx('tiny.yaml'), ['data.mask_type=random_tube']), /mask\.0\.ratio: required when data\.mask_type is "random_tube"/);
  const ok = loadPretrainConfig(fx('tiny.yaml'), ['data.mask_type=random_tube', 'mask.0.ratio=0.9', 'mask.1.ratio=0.75']);
  assert.is(ok.config.mask[0].ratio, 0.9);
  const w = loadPretrainConfig(fx('tiny.yaml'), ['optimization.ipe_scale=0.8', 'meta.dtype=fp32']).warnings;
  assert.ok(w.some((x) => x.includes('optimization.ipe_scale: 0.8 < 1')));
  assert.ok(w.some((x) => x.includes('meta.dtype: "fp32"')));
  assert.throws(() => loadPretrainConfig(fx('tiny.yaml'), ['mask.0.spatial_scale=[0.3, 0.2]']), /mask\.0\.spatial_scale: min 0\.3 > max 0\.2/);
});

test("MASK-04 / CFG-02: a tube config needs ratio alone, as the original's; multiblock3d still needs the block keys", () => {
  const raw = tinyRaw();
  raw.data.mask_type = 'random_tube';
  raw.mask = [{ ratio: 0.9 }, { ratio: 0.75 }];
  const { config } = validatePretrainConfig(raw, { file: 'tube.yaml' });
  assert.equal(config.mask.map((m) => m.ratio), [0.9, 0.75]);
  const mb = tinyRaw();
  delete mb.mask[1].aspect_ratio;
  delete mb.mask[1].num_blocks;
  assert.throws(() => validatePretrainConfig(mb, { file: 'mb.yaml' }), (e: Error) => /mb\.yaml: mask\.1\.aspect_ratio: required key is missing/.test(e.message) && /mb\.yaml: mask\.1\.num_blocks: required key is missing/.test(e.message));
});

test('CFG-01: meta.dtype is read case-blind, as the original lowers it; data.dataset_type must name videos', () => {
  const { config, warnings } = loadPretrainConfig(fx('tiny.yaml'), ['meta.dtype=BFloat16']);
  assert.is(config.meta.dtype, 'bfloat16');
  assert.not.ok(warnings.some((w) => w.includes('meta.dtype')), warnings.join('\n'));
  assert.is(loadPretrainConfig(fx('tiny.yaml'), ['data.dataset_type=VideoDataset']).config.data.dataset_type, 'VideoDataset');
  assert.throws(() => loadPretrainConfig(fx('tiny.yaml'), ['data.dataset_type=ImageNet']), /data\.dataset_type: "ImageNet": vjepa-train reads videos/);
});

test('file problems: missing file, YAML syntax error with line, non-mapping', () => {
  assert.throws(() => loadPretrainConfig(join(tmp, 'nope.yaml')), /config file not found: .*nope\.yaml/);
  const p = join(tmp, 'syntax.yaml');
  writeFileSync(p, 'app: vjepa\ndata:\n  batch_size: [1, 2\n');
  assert.throws(() => loadPretrainConfig(p), /syntax\.yaml:\d+:\d+: YAML error/);
  const q = join(tmp, 'list.yaml');
  writeFileSync(q, '- 1\n- 2\n');
  assert.throws(() => loadPretrainConfig(q), /expected a YAML mapping/);
  const d = join(tmp, 'dup.yaml');
  writeFileSync(d, 'app: vjepa\napp: other\n');
  assert.throws(() => loadPretrainConfig(d), /YAML error/);
});

test('CFG-03: video probe config; frames_per_clip default 1 warns (§8.35); checkpoint may be null', () => {
  const { config: c, warnings } = loadProbeConfig(fx('probe_k400.yaml'));
  assert.is(c.eval_name, 'video_classification_frozen');
  assert.equal((c.data as any).dataset_train, ['/your_path_to_kinetics400_train_csv_file_index.csv']);
  assert.is((c.data as any).num_segments, 8);
  assert.is(c.optimization.attend_across_segments, true);
  assert.is(c.pretrain.frame_step, 4);
  assert.is(c.pretrain.checkpoint_key, 'target_encoder');
  assert.is((c.data as any).frame_step, undefined);
  assert.ok(warnings.some((w) => w.includes('data.frame_step: accepted but ignored')));
  assert.ok(warnings.some((w) => w.includes('use_bfloat16')));
  assert.throws(() => loadProbeConfig(fx('probe_k400.yaml'), ['pretrain.frames_per_clip=null']), /pretrain\.frames_per_clip: expected an integer, got null/);
});

test('CFG-03 defaults and probe extensions', () => {
  const raw = YAML.parse(require_('probe_k400.yaml'));
  delete raw.pretrain.frames_per_clip;
  delete raw.data.num_segments;
  delete raw.pretrain.uniform_power;
  const p = writeYaml('probe.yaml', raw);
  const { config: c, warnings } = loadProbeConfig(p, ['pretrain.checkpoint=null', 'meta.device=cuda', 'pretrain.depth=2']);
  assert.is(c.pretrain.frames_per_clip, 1);
  assert.ok(warnings.some((w) => w.includes('pretrain.frames_per_clip: absent, so it defaults to 1')));
  assert.is((c.data as any).num_segments, 1);
  assert.is(c.pretrain.uniform_power, false);
  assert.is(c.pretrain.checkpoint, null);
  assert.is(c.meta.device, 'cuda');
  assert.is(c.pretrain.depth, 2);
  assert.throws(() => loadProbeConfig(p, ['eval_name=linear']), /eval_name: expected one of/);
});

test('CFG-04: image probe config; resolution lives under data and is mirrored to optimization', () => {
  const { config: c } = loadProbeConfig(fx('probe_in1k.yaml'));
  assert.is(c.eval_name, 'image_classification_frozen');
  assert.is((c.data as any).image_folder, 'imagenet_full_size/061417/');
  assert.is(c.optimization.resolution, 224);
  assert.is(c.optimization.attend_across_segments, false);
  const r = loadProbeConfig(fx('probe_in1k.yaml'), ['optimization.resolution=384']);
  assert.ok(r.warnings.some((w) => w.includes('optimization.resolution: unknown key (from --set)')));
  assert.throws(() => loadProbeConfig(fx('probe_in1k.yaml'), ['data.dataset_name=null']), /data\.dataset_name: expected a string, got null/);
});

const TOP_KEYS = 'app, nodes, tasks_per_node, data, data_aug, logging, loss, mask, meta, model, optimization';

test('a mistyped section name is named in the error, with a suggestion, next to the keys it left missing', () => {
  const raw = tinyRaw();
  raw.optimizaton = raw.optimization;
  delete raw.optimization;
  const p = writeYaml('typo-section.yaml', raw);
  const missing = ['weight_decay', 'final_weight_decay', 'epochs', 'warmup', 'start_lr', 'lr', 'final_lr', 'ema'];
  const unknown = `${p}: optimizaton: unknown key (did you mean optimization?); known keys here: ${TOP_KEYS}`;
  assert.throws(
    () => loadPretrainConfig(p),
    (e: Error) =>
      e.message ===
      `invalid config ${p} (8 problems):\n` +
        missing.map((k) => `  ${p}: optimization.${k}: required key is missing\n`).join('') +
        `unknown keys (a misspelt key leaves the real one missing):\n  ${unknown}`,
  );
  // Strict: the unknown key is one of the errors, listed once.
  try {
    loadPretrainConfig(p, [], { strict: true });
    assert.unreachable('should throw');
  } catch (e) {
    const m = (e as Error).message;
    assert.match(m, `invalid config ${p} (9 problems):\n  ${unknown}\n`);
    assert.is(m.split('optimizaton: unknown key').length, 2);
    assert.not.match(m, 'unknown keys (a misspelt');
  }
  // Without other errors it stays a warning, with the same suggestion.
  const w = loadPretrainConfig(fx('tiny.yaml'), ['optimization.epoch=3']).warnings;
  assert.ok(w.some((x) => x.includes(`optimization.epoch: unknown key (from --set) (did you mean optimization.epochs?); known keys here: ipe, `)), w.join('\n'));
});

test('suggestions: edit distance with swaps; only close keys are suggested', () => {
  assert.is(editDistance('optimizaton', 'optimization'), 1);
  assert.is(editDistance('optimziation', 'optimization'), 1);
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.is(editDistance('', 'abc'), 3);
  assert.is(closestKey('Batch_Size', ['batch_size', 'num_clips']), 'batch_size');
  assert.is(closestKey('epoch', ['epochs', 'warmup']), 'epochs');
  assert.is(closestKey('wd', ['lr', 'eps']), null);
  assert.is(closestKey('lr_typo', ['lr', 'final_lr', 'start_lr']), null);
  assert.throws(() => loadPretrainConfig(fx('tiny.yaml'), ['zzz=1'], { strict: true }), (e: Error) => e.message.includes(`zzz: unknown key (from --set); known keys here: ${TOP_KEYS}`));
});

test('--set into an unknown section carries the (from --set) marker on the unknown segment; file keys do not', () => {
  const r = loadPretrainConfig(fx('tiny.yaml'), ['optimizaton.epochs=1']);
  assert.equal(r.warnings, [`${fx('tiny.yaml')}: optimizaton: unknown key (from --set) (did you mean optimization?); known keys here: ${TOP_KEYS} (ignored)`]);
  assert.throws(() => loadPretrainConfig(fx('tiny.yaml'), ['optimizaton.epochs=1', 'optimizaton.lr=2'], { strict: true }), /: optimizaton: unknown key \(from --set\)/);
  // A --set path that only shares a prefix string does not mark the file's own unknown key.
  const raw = tinyRaw();
  raw.optim = 1;
  const p = writeYaml('file-unknown.yaml', raw);
  const w = loadPretrainConfig(p, ['optimization.epochs=2', 'optimx.a=1']).warnings;
  assert.ok(w.some((x) => x.startsWith(`${p}: optim: unknown key; known keys here:`)), w.join('\n'));
  assert.ok(w.some((x) => x.startsWith(`${p}: optimx: unknown key (from --set); known keys here:`)), w.join('\n'));
});

test('pretrain.checkpoint: null gives no config warning (the probe warns once when it builds the encoder)', () => {
  const { config: c, warnings } = loadProbeConfig(fx('probe_k400.yaml'), ['pretrain.checkpoint=null']);
  assert.is(c.pretrain.checkpoint, null);
  assert.equal(warnings.filter((w) => w.includes('pretrain.checkpoint')), []);
});

test.run();
