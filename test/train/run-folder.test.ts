// What a run folder may be asked for (TRAIN-12): a second run into a folder that holds one is
// refused unless it resumes or overwrites; meta.read_checkpoint resolves like os.path.join.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finish, runTrain, tempDir, tinyConfigYaml, tinyDataset, writeConfig } from './helpers.js';

test('a second run into a folder that holds one is refused and changes nothing; --overwrite replaces it', async () => {
  const csv = await tinyDataset();
  const dir = tempDir('rerun');
  const cfg = writeConfig(dir, tinyConfigYaml(csv, dir));
  const first = await finish(runTrain([cfg, '--max-iterations', '2']));
  assert.is(first.code, 0, first.out);
  const log = readFileSync(join(dir, 'jepa_r0.csv'));
  const ckpt = readFileSync(join(dir, 'jepa-latest.safetensors'));
  const again = await finish(runTrain([cfg, '--max-iterations', '1']));
  assert.is(again.code, 1, again.out);
  assert.ok(
    again.out.includes(
      `logging.folder: ${dir} already holds a run (jepa-latest.safetensors, jepa_r0.csv). ` +
        'Resume it with --set meta.load_checkpoint=true, replace it with --overwrite, or choose another logging.folder.',
    ),
    again.out,
  );
  assert.ok(readFileSync(join(dir, 'jepa_r0.csv')).equals(log), 'the log is untouched');
  assert.ok(readFileSync(join(dir, 'jepa-latest.safetensors')).equals(ckpt), 'the checkpoint is untouched');
  const over = await finish(runTrain([cfg, '--max-iterations', '1', '--overwrite']));
  assert.is(over.code, 0, over.out);
  assert.is(readFileSync(join(dir, 'jepa_r0.csv'), 'utf8').trim().split('\n').length, 2, 'a fresh log: header and one iteration');
});

test('meta.read_checkpoint: an absolute path resumes from that file, a missing one is an error, alone it warns', async () => {
  const csv = await tinyDataset();
  const src = tempDir('readck-src');
  assert.is((await finish(runTrain([writeConfig(src, tinyConfigYaml(csv, src)), '--max-iterations', '2']))).code, 0);
  const file = join(src, 'jepa-latest.safetensors');

  const dir = tempDir('readck');
  const cfg = writeConfig(dir, tinyConfigYaml(csv, dir));
  const resumed = await finish(runTrain([cfg, '--max-iterations', '3', '--set', 'meta.load_checkpoint=true', '--set', `meta.read_checkpoint=${file}`]));
  assert.is(resumed.code, 0, resumed.out);
  assert.match(resumed.out, new RegExp(`resume: ${file.replace(/[.]/g, '\\.')} at iteration 2`));

  const empty = tempDir('readck-missing');
  const missing = await finish(runTrain([writeConfig(empty, tinyConfigYaml(csv, empty)), '--set', 'meta.load_checkpoint=true', '--set', 'meta.read_checkpoint=nope.safetensors']));
  assert.is(missing.code, 1, missing.out);
  assert.ok(missing.out.includes(`meta.read_checkpoint: ${join(empty, 'nope.safetensors')} not found (nothing to resume from)`), missing.out);
  assert.not.ok(existsSync(join(empty, 'params-pretrain.yaml')), 'nothing was written');

  const alone = tempDir('readck-alone');
  const r = await finish(runTrain([writeConfig(alone, tinyConfigYaml(csv, alone)), '--max-iterations', '1', '--set', `meta.read_checkpoint=${file}`]));
  assert.is(r.code, 0, r.out);
  assert.ok(r.out.includes(`warning: meta.read_checkpoint (${file}) is ignored while meta.load_checkpoint is false: starting fresh`), r.out);
});

test.run();
