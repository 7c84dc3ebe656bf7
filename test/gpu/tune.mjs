// The attention tuner on this GPU at ViT-L/16's shapes (configs/vitl16.yaml): the encoder's 16
// heads of 64 and the predictor's 16 heads of 24, over 1568 tokens. Prints each candidate's
// time and check, and what vjepa-train would run. A fresh cache each time, so the trial runs.
//   node test/gpu/tune.mjs [batch]      # needs dist/ built; tiny shapes on the emulated addon
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compiled } from './dist.mjs';

const { lib } = compiled(import.meta.url, 'lib/ops/attention-tuning.js');
const { native } = await lib('native.js');
const { tuneAttention, attentionShapes } = await lib('ops/attention-tuning.js');
const info = native.cudaInfo();
if (!info.available) {
  console.log(`CUDA unavailable: ${info.reason}`);
  process.exit(0);
}
const B = Number(process.argv[2] ?? 16);
// The emulator (test/native/cuda_emu) would take hours at ViT-L's length: there, the same head_dims, tiny.
const shapes = info.emulated
  ? attentionShapes([{ dim: 128, heads: 2, tokens: 40, batch: 1 }, { dim: 48, heads: 2, tokens: 40, batch: 1 }])
  : attentionShapes([
      { dim: 1024, heads: 16, tokens: 1568, batch: B },
      { dim: 384, heads: 16, tokens: 1568, batch: B },
    ]);
const cacheFile = join(mkdtempSync(join(tmpdir(), 'vjepa-tune-')), 'attention-kernels.json');
const t0 = performance.now();
const out = tuneAttention('cuda:0', shapes, { log: (l) => console.log(l), cacheFile, iters: info.emulated ? 1 : 10 });
console.log(`\n| head_dim | forward | backward | from |\n|---|---|---|---|`);
for (const [hd, c] of out) console.log(`| ${hd} | ${c.fwd} | ${c.bwd} | ${c.from} |`);
console.log(`tuned in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
// a failed trial is a finding, not a pass: say so in the exit status
process.exit([...out.values()].some((c) => c.from === 'failed') ? 1 : 0);
