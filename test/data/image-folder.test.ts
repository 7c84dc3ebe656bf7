// DATA-11: the image probe's folder index, as torchvision's ImageFolder builds it: classes are the
// sorted subfolders of root, and each class folder is walked whole, linked folders included.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanImageFolder } from '../../lib/data/image-folder.js';

test('images at any depth of a class folder count, through links, sorted; other files do not', () => {
  const root = mkdtempSync(join(tmpdir(), 'vjepa-imgfolder-'));
  const touch = (...p: string[]) => {
    mkdirSync(join(root, ...p.slice(0, -1)), { recursive: true });
    writeFileSync(join(root, ...p), '');
  };
  touch('dog', 'b.jpg');
  touch('dog', 'a', 'x.png');
  touch('dog', 'a', 'deeper', 'y.JPEG');
  touch('dog', 'notes.txt');
  touch('cat', '1.jpg');
  const elsewhere = mkdtempSync(join(tmpdir(), 'vjepa-imgfolder-link-'));
  writeFileSync(join(elsewhere, 'z.png'), '');
  symlinkSync(elsewhere, join(root, 'cat', 'linked'));
  const idx = scanImageFolder(root);
  assert.equal(idx.classes, ['cat', 'dog']);
  assert.equal(
    idx.paths.map((p) => p.slice(root.length + 1)),
    ['cat/1.jpg', 'cat/linked/z.png', 'dog/a/deeper/y.JPEG', 'dog/a/x.png', 'dog/b.jpg'],
  );
  assert.equal(Array.from(idx.labels), [0, 0, 1, 1, 1]);
});

test.run();
