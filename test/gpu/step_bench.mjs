// The GPU step bench of issue 7: one ViT-L/16 V-JEPA pretraining iteration (configs/vitl16.yaml:
// 16 frames at 224 px, predictor 384 x 12, the config's two multiblock masks) with our bf16 mixed
// precision (pretrainStep: forward, backward, clipping, AdamW, EMA) against the same iteration in
// PyTorch bf16 autocast eager with SDPA (reference/bench_step_gpu.py), in the same run. Each side
// tries the batch sizes in turn; the table gives clips/s, the ratio at each batch both ran, and
// MFU (matmul FLOPs, as reference/bench_torch.py counts them, over VJEPA_PEAK_TFLOPS, default
// 989 = H200 SXM dense bf16).
//   node test/gpu/step_bench.mjs            # on the GPU (needs dist/ built)
//   node test/gpu/step_bench.mjs --tiny     # harness self-check: vit_tiny at 64 px, batch 2 (CPU, or CUDA when present)
// VJEPA_STEP_BATCHES (default 64,32,16: at 32 both sides used under a third of an H200's memory) and VJEPA_STEP_STEPS (default 3) set the batches tried and the timed steps;
// VJEPA_TORCH_PROFILE=ROWS prints torch's profile of one step at the first batch (its top ROWS ops);
// VJEPA_STEP_NO_TORCH=1 times our side alone (between runs of a tuning session).
// Our side runs the attention kernels the tuner chooses, as vjepa-train does (VJEPA_CUDA_ATTN_TUNE=0: the defaults).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { compiled } from './dist.mjs';
import { clipBatch, disposeMasks, maskTensors, stepModules, stepSettings } from './step_inputs.mjs';

const { root, lib } = compiled(import.meta.url, 'lib/train/iteration.js');
const { native, Tensor, memoryStats, AdamW, pretrainStep, buildModel, buildMaskCollator, loadPretrainConfig, Rng, CastPlan } = await stepModules(lib);
const { resolveVariant, configOverrides } = await lib('nn/registry.js');
const { tuneRunAttention } = await lib('ops/attention-tuning.js');

const tiny = process.argv.includes('--tiny');
const info = native.cudaInfo();
const device = info.available ? 'cuda' : tiny ? 'cpu' : null;
if (!device) {
  console.log(`CUDA unavailable: ${info.reason} (run with --tiny for the CPU self-check)`);
  process.exit(0);
}
const sets = tiny
  ? ['model.model_name=vit_tiny', 'model.depth=2', 'model.pred_depth=2', 'model.pred_embed_dim=96', 'data.crop_size=64', 'data.num_frames=8']
  : [];
const { config: cfg } = loadPretrainConfig(join(root, 'configs/vitl16.yaml'), sets);
const batches = (process.env.VJEPA_STEP_BATCHES ?? (tiny ? '2' : '64,32,16')).split(',').map(Number);
const STEPS = Number(process.env.VJEPA_STEP_STEPS ?? (tiny ? 2 : 3));
const PEAK = Number(process.env.VJEPA_PEAK_TFLOPS ?? 989) * 1e12;

// Mask sizes of the config's collator at the largest batch (batch-min K, MASK-02).
const collator = buildMaskCollator(cfg);
function maskSizes(B) {
  const m = collator.sample(0, B);
  return { ctx: m.ctx.map((c) => c.K), tgt: m.tgt.map((t) => t.K), batch: m };
}

// The encoder's dimensions, without building a ViT-L just to read them.
const enc = resolveVariant(cfg.model.model_name, configOverrides(cfg.model));
const N = (cfg.data.num_frames / cfg.data.tubelet_size) * (cfg.data.crop_size / cfg.data.patch_size) ** 2;
const spec = {
  img_size: cfg.data.crop_size, patch_size: cfg.data.patch_size, num_frames: cfg.data.num_frames, tubelet_size: cfg.data.tubelet_size,
  embed_dim: enc.embedDim, depth: enc.depth, num_heads: enc.numHeads, mlp_ratio: enc.mlpRatio,
  pred_embed_dim: cfg.model.pred_embed_dim, pred_depth: cfg.model.pred_depth, uniform_power: cfg.model.uniform_power,
  device: info.emulated ? 'cpu' : device, // torch's side: the CPU when our CUDA is the emulator
};

/** Matmul FLOPs of one iteration at batch B (2 per multiply-add; backward = 2x forward; target encoder forward only). */
function stepFlops(B, K) {
  const d = spec.embed_dim, dp = spec.pred_embed_dim;
  const patch = 2 * N * (3 * spec.tubelet_size * spec.patch_size ** 2) * d;
  const blocks = (depth, tok, w) => depth * (24 * tok * w * w + 4 * tok * tok * w);
  let online = 0;
  K.ctx.forEach((kc, i) => {
    const kt = K.tgt[i];
    online += patch + blocks(spec.depth, kc, d) + blocks(spec.pred_depth, kc + kt, dp) + 2 * kc * d * dp + 2 * kt * dp * d;
  });
  return B * (patch + blocks(spec.depth, N, d) + 3 * online);
}

/** One batch size's timed steps on `model` (built once: a ViT-L's init costs more than its steps). */
function ours(model, B) {
  const K = maskSizes(B);
  let opt = null, clips = null, masks = [];
  try {
    opt = new AdamW(model.paramGroups());
    clips = clipBatch(Tensor, Rng, [B, 3, spec.num_frames, spec.img_size, spec.img_size], device);
    masks = maskTensors(Tensor, K.batch, B, device);
    native.resetPeak();
    const settings = stepSettings(CastPlan);
    const losses = [];
    for (let i = 0; i < 2; i++) losses.push(pretrainStep(model, opt, clips, masks, settings).loss);
    const times = [];
    const launches0 = native.cudaInfo().launches;
    for (let i = 0; i < STEPS; i++) {
      const t0 = performance.now();
      losses.push(pretrainStep(model, opt, clips, masks, settings).loss); // reads the loss back: synchronises
      times.push(performance.now() - t0);
    }
    const launches = (native.cudaInfo().launches - launches0) / STEPS;
    times.sort((a, b) => a - b);
    const ms = times[Math.floor(times.length / 2)];
    const st = memoryStats();
    return { batch: B, ms_median: ms, launches, clips_per_s: (B * 1000) / ms, peak_bytes: device === 'cpu' ? st.cpuPeakBytes : st.cudaPeakBytes, reserved_bytes: st.cudaReservedBytes, first_loss: losses[0], last_loss: losses.at(-1), K };
  } catch (e) {
    if (/out of memory/i.test(String(e.message))) return { batch: B, error: 'out of memory', K };
    throw e;
  } finally {
    disposeMasks(masks);
    clips?.dispose();
    opt?.dispose();
    if (device !== 'cpu') native.emptyCache();
  }
}

console.log(`step bench: ${tiny ? 'self-check (tiny)' : 'ViT-L/16'} ${spec.num_frames}x${spec.img_size}² on ${device}, ${N} tokens, D=${spec.embed_dim} x ${spec.depth}, predictor ${spec.pred_embed_dim} x ${spec.pred_depth}; batches ${batches.join(',')}; ${STEPS} timed steps`);
const oursRows = [];
const tBuild = performance.now();
const model = buildModel(cfg);
if (device !== 'cpu') model.to(device);
console.log(`model built and placed in ${((performance.now() - tBuild) / 1000).toFixed(1)} s`);
// As vjepa-train does: the attention kernels this GPU checked and timed fastest (the env's, where set).
tuneRunAttention(device, 'bfloat16', [
  { dim: spec.embed_dim, heads: enc.numHeads, tokens: N, batch: batches[0] },
  { dim: spec.pred_embed_dim, heads: enc.numHeads, tokens: N, batch: batches[0] },
], (l) => console.log(l));
for (const B of batches) {
  const r = ours(model, B);
  console.log(`ours  batch ${B}: ${r.error ?? `${r.ms_median.toFixed(1)} ms/step, ${r.clips_per_s.toFixed(2)} clips/s, loss ${r.first_loss.toFixed(4)} -> ${r.last_loss.toFixed(4)}, ${r.launches} kernel launches per step, peak ${(r.peak_bytes / 2 ** 30).toFixed(2)} GiB live, ${(r.reserved_bytes / 2 ** 30).toFixed(2)} GiB reserved`}; cuBLASLt GEMMs so far ${native.cudaInfo().ltGemms}, wgmma attention calls so far ${native.cudaInfo().wgmmaAttention}`);
  oursRows.push(r);
}
model.dispose();  // torch's side runs next on the same device: give it our cached blocks
if (device !== 'cpu') native.emptyCache();

let torch = null;
if (process.env.VJEPA_STEP_NO_TORCH) console.log('torch side skipped (VJEPA_STEP_NO_TORCH)');
else try {
  // Each batch size with its own mask sizes (K is the batch minimum, MASK-02), as our side ran it.
  const masks = Object.fromEntries(oursRows.map((r) => [r.batch, { ctx: r.K.ctx, tgt: r.K.tgt }]));
  const first = masks[batches[0]];
  const out = execFileSync('python3', [join(root, 'reference/bench_step_gpu.py'), '--spec', JSON.stringify({ ...spec, ctx: first.ctx, tgt: first.tgt, masks }), '--batches', batches.join(','), '--steps', String(STEPS), ...(process.env.VJEPA_TORCH_PROFILE ? ['--profile', process.env.VJEPA_TORCH_PROFILE] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 900_000 });
  torch = JSON.parse(out);
} catch (e) {
  console.log(`torch side failed: ${String(e.message).split('\n')[0]}`);
}

const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');
console.log(`\n| batch | K ctx / tgt | ours ms | ours clips/s | ours MFU | ours peak GB | torch ms | torch clips/s | torch MFU | torch peak GB | ours / torch |`);
console.log(`|---|---|---|---|---|---|---|---|---|---|---|`);
for (const r of oursRows) {
  const t = torch?.results.find((x) => x.batch === r.batch);
  const flops = stepFlops(r.batch, r.K);
  const mfu = (x) => (device === 'cpu' || info.emulated || !x || x.error ? '-' : `${((flops / (x.ms_median / 1000) / PEAK) * 100).toFixed(1)} %`);
  const ratio = !r.error && t && !t.error ? (r.clips_per_s / t.clips_per_s).toFixed(2) : '-';
  console.log(`| ${r.batch} | ${r.K.ctx.join('+')} / ${r.K.tgt.join('+')} | ${r.error ?? f(r.ms_median, 1)} | ${f(r.clips_per_s)} | ${mfu(r)} | ${f(r.peak_bytes / 2 ** 30)} | ${t?.error ?? f(t?.ms_median, 1)} | ${f(t?.clips_per_s)} | ${mfu(t)} | ${f(t?.peak_bytes / 2 ** 30)} | ${ratio} |`);
}
const best = (rows) => rows?.filter((x) => !x.error).sort((a, b) => b.clips_per_s - a.clips_per_s)[0];
const bo = best(oursRows), bt = best(torch?.results);
if (bo && bt) console.log(`\nbest: ours ${bo.clips_per_s.toFixed(2)} clips/s (batch ${bo.batch}) vs torch ${bt.clips_per_s.toFixed(2)} (batch ${bt.batch}): ${(bo.clips_per_s / bt.clips_per_s).toFixed(2)}x; torch ${torch.torch} on ${torch.device_name}`);
