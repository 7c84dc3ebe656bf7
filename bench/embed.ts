// Frozen features, ours vs PyTorch (reference/bench_torch.py --only embed): the released ViT-L/16 on
// one 16x224² clip (1568 tokens) without a graph, the forward vjepa-embed and the probes' feature
// pass run, in fp32 and in bf16 mixed precision (vjepa-embed --dtype bfloat16 against torch's CPU
// autocast). Both sides time the encoder alone, from a normalised clip in memory to its tokens.
import { Tensor, tidy } from '../lib/tensor.js';
import { native } from '../lib/native.js';
import { noGrad } from '../lib/autograd.js';
import { InitRng } from '../lib/nn/init.js';
import { buildEncoder } from '../lib/nn/vjepa.js';
import { Rng } from '../lib/util/rng.js';
import { autocast, type MatmulDtype } from '../lib/ops/autocast.js';
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
  const median = (dtype: MatmulDtype): number => {
    const once = () => tidy(() => void noGrad(() => autocast(dtype, () => enc.forward(x))).toFloat32Array());
    for (let i = 0; i < SPEC.warmup; i++) once();
    const times: number[] = [];
    for (let i = 0; i < (opts.reps ?? SPEC.reps); i++) {
      const t0 = performance.now();
      once();
      times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  };
  const fp32 = median('float32'), bf16 = median('bfloat16');
  x.dispose();
  enc.dispose();
  const ref = torchReference('embed', opts.threads);
  const row = (dtype: string, ours: number, reference: number | null, referenceName: string): BenchRow => ({
    group: 'features',
    name: `ViT-L/16 frozen forward, ${SPEC.frames}x${SPEC.size}², 1568 tok, B${SPEC.batch}, ${dtype}`,
    unit: 'ms',
    ours,
    reference,
    referenceName,
    higherIsBetter: false,
  });
  return [
    row('fp32', fp32, ref ? ref.ms_median : null, 'PyTorch eager fp32 + SDPA, inference_mode'),
    row(`bf16 mixed precision (${native.isa().active})`, bf16, ref?.bf16_ms_median ?? null, 'PyTorch CPU autocast bf16 + SDPA, inference_mode'),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.table(await benchEmbed({ threads: 2 }));
}
