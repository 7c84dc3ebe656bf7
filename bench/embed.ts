// Frozen features, ours vs PyTorch (reference/bench_torch.py --only embed): the released ViT-L/16 on
// one 16x224² clip (1568 tokens) without a graph, the forward vjepa-embed and the probes' feature
// pass run. Both sides time the encoder alone, from a normalised clip in memory to its tokens.
import { Tensor, tidy } from '../lib/tensor.js';
import { native } from '../lib/native.js';
import { noGrad } from '../lib/autograd.js';
import { InitRng } from '../lib/nn/init.js';
import { buildEncoder } from '../lib/nn/vjepa.js';
import { Rng } from '../lib/util/rng.js';
import type { BenchRow } from './types.js';
import { torchReference } from './torch.js';

// reference/bench_torch.py's EMBED
const SPEC = { frames: 16, size: 224, batch: 1, warmup: 1, reps: 3 };

export async function benchEmbed(opts: { threads: number; reps?: number }): Promise<BenchRow[]> {
  native.setNumThreads(opts.threads);
  const enc = buildEncoder(
    { modelName: 'vit_large', overrides: {}, cropSize: SPEC.size, patchSize: 16, numFrames: SPEC.frames, tubeletSize: 2, uniformPower: true, predEmbedDim: 1, predDepth: 0, numMaskTokens: 0, zeroInitMaskTokens: true, seed: 0 },
    new InitRng(0),
  );
  enc.setTrainable(false);
  const rng = new Rng(1);
  const shape = [SPEC.batch, 3, SPEC.frames, SPEC.size, SPEC.size];
  const x = Tensor.from(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()), shape);
  const once = () => tidy(() => void noGrad(() => enc.forward(x)).toFloat32Array());
  for (let i = 0; i < SPEC.warmup; i++) once();
  const times: number[] = [];
  for (let i = 0; i < (opts.reps ?? SPEC.reps); i++) {
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  x.dispose();
  enc.dispose();
  const ref = torchReference('embed', opts.threads);
  return [
    {
      group: 'features',
      name: `ViT-L/16 frozen forward, ${SPEC.frames}x${SPEC.size}², 1568 tok, B${SPEC.batch}, fp32`,
      unit: 'ms',
      ours: times[Math.floor(times.length / 2)],
      reference: ref ? ref.ms_median : null,
      referenceName: 'PyTorch eager fp32 + SDPA, inference_mode',
      higherIsBetter: false,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.table(await benchEmbed({ threads: 2 }));
}
