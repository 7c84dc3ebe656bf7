// `npx vjepa-train …` on a fresh clone runs dist/bin/vjepa-train.js itself, through its shebang: tsc writes it
// without the executable bit, so build:ts sets it for every bin of package.json. Each bin must start as a
// program (not through `node FILE`) and answer --help.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const bins = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin as Record<string, string>;

test('package.json names the six commands, each built to dist/bin', () => {
  assert.equal(Object.keys(bins).sort(), ['vjepa-data', 'vjepa-embed', 'vjepa-export', 'vjepa-masks', 'vjepa-probe', 'vjepa-train']);
});

for (const [name, file] of Object.entries(bins)) {
  test(`${name}: executable, with a node shebang, and runs as a program (--help exits 0)`, () => {
    const path = join(ROOT, file);
    assert.ok((statSync(path).mode & 0o111) !== 0, `${file} is not executable: npx ${name} would fail with "Permission denied"`);
    assert.is(readFileSync(path, 'utf8').split('\n')[0], '#!/usr/bin/env node');
    const r = spawnSync(path, ['--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.is(r.error, undefined, String(r.error));
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, name);
  });
}

test.run();
