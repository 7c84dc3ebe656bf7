// Where the GPU scripts find the compiled project: the repository they sit in, or one level up
// when test/gpu/ was carried on its own. Exits 2, naming the script, when dist/ is not built.
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** { root, lib(p): import of dist/lib/p, dist(p): import of dist/p } for the script at scriptUrl. */
export function compiled(scriptUrl, marker) {
  const file = fileURLToPath(scriptUrl), here = dirname(file);
  const root = [resolve(here, '../..'), resolve(here, '../../..')].find((r) => existsSync(join(r, 'dist', marker)));
  if (!root) {
    console.error(`${basename(file)}: dist/ is not built next to this script; run \`npm run build:ts\` (or carry dist/)`);
    process.exit(2);
  }
  const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
  return { root, dist, lib: (p) => dist(join('lib', p)) };
}
