// Small GPU bench: our CUDA attention fwd+bwd, layernorm fwd+bwd and GEMM against torch
// (SDPA in bf16 on each backend: FlashAttention-2, cuDNN and SDPA's own choice; SDPA in fp32,
// F.layer_norm, torch.mm), timed by wall clock around a
// synchronising read (ours) and CUDA events (torch). Called by ops.mjs --bench.
import { execFileSync } from 'node:child_process';
import { compiled } from './dist.mjs';

function timeit(A, fn, iters = 20) {
  const s = A.empty([1], 'float32', 'cuda');
  A.fill(s, 0);
  const sync = () => A.sumSquares(s);  // returns a host double: synchronises the stream
  for (let i = 0; i < 3; i++) fn();
  sync();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) fn();
  sync();
  s.dispose();
  return (performance.now() - t0) / iters;
}

// withEnv(name, value, fn): the addon reads VJEPA_CUDA_ATTN_FWD, _BWD, _NO_HD24 and _WGMMA_HD24 at
// each call, so one run can time each setting.
const { withEnv } = await compiled(import.meta.url, 'lib/util/process.js').lib('util/process.js');
export { withEnv };
export const withAttnBwd = (schedule, fn) => withEnv('VJEPA_CUDA_ATTN_BWD', schedule, fn);
export const withAttnFwd = (kernels, fn) => withEnv('VJEPA_CUDA_ATTN_FWD', kernels, fn);

const TORCH = String.raw`
import torch, torch.nn.functional as F, json, sys
B,N,H,hd,R,C,M,K,Nn,hdp,hdh = [int(x) for x in sys.argv[1:12]]
dev='cuda'; out={}
def t(fn, it=20):
    for _ in range(3): fn()
    torch.cuda.synchronize(); s=torch.cuda.Event(enable_timing=True); e=torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(it): fn()
    e.record(); torch.cuda.synchronize(); return s.elapsed_time(e)/it
from torch.nn.attention import sdpa_kernel, SDPBackend
# Each SDPA backend by name (FlashAttention-2 is 'flash'; cuDNN's kernels are named flash too),
# and SDPA's own dispatch ('sdpa', what a model calling it gets), with the backend it ran.
BACKENDS=(('flash',SDPBackend.FLASH_ATTENTION),('cudnn',SDPBackend.CUDNN_ATTENTION),('sdpa',None))
def under(be, fn):
    if be is None: return fn()
    with sdpa_kernel([be]): return fn()
def dispatched(fn):
    try:
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as p:  # op names and kernel names
            fn(); torch.cuda.synchronize()
        k=' '.join(e.key for e in p.key_averages()).lower()
        return 'cudnn' if 'cudnn' in k else 'flash' if 'flash' in k else 'efficient' if ('fmha' in k or 'efficient' in k) else 'math'
    except Exception as ex: return 'unknown ('+str(ex)[:40]+')'
def attn(prefix, d, fwd_too):
    q,k,v=[torch.randn(B,H,N,d,device=dev,dtype=torch.bfloat16,requires_grad=True) for _ in range(3)]
    g=torch.randn(B,H,N,d,device=dev,dtype=torch.bfloat16)
    def f():
        o=F.scaled_dot_product_attention(q,k,v); o.backward(g)
    for name,be in BACKENDS:
        try: out[prefix+'_'+name]=under(be, lambda: t(f))
        except Exception as ex: out[prefix+'_'+name]=str(ex)[:80]
        if fwd_too:
            try:
                with torch.no_grad(): out[prefix+'_fwd_'+name]=under(be, lambda: t(lambda: F.scaled_dot_product_attention(q,k,v)))
            except Exception as ex: out[prefix+'_fwd_'+name]=str(ex)[:80]
    out[prefix+'_ran']=dispatched(f)
attn('attn_bf16', hd, True)
attn('attn_pred_bf16', hdp, False)
attn('attn_h_bf16', hdh, False)
q,k,v=[torch.randn(B,H,N,hd,device=dev,dtype=torch.float32,requires_grad=True) for _ in range(3)]
g=torch.randn(B,H,N,hd,device=dev,dtype=torch.float32)
def f32():
    o=F.scaled_dot_product_attention(q,k,v); o.backward(g)
try: out['attn_fp32']=t(f32)
except Exception as ex: out['attn_fp32']=str(ex)[:80]
x=torch.randn(R,C,device=dev,requires_grad=True); w=torch.randn(C,device=dev,requires_grad=True); b=torch.randn(C,device=dev,requires_grad=True); gy=torch.randn(R,C,device=dev)
def ln():
    y=F.layer_norm(x,(C,),w,b,1e-6); y.backward(gy)
out['layernorm']=t(ln)
a=torch.randn(M,K,device=dev); bb=torch.randn(K,Nn,device=dev)
torch.backends.cuda.matmul.allow_tf32=False
out['gemm_fp32']=t(lambda: torch.mm(a,bb))
torch.backends.cuda.matmul.allow_tf32=True
out['gemm_tf32']=t(lambda: torch.mm(a,bb))
ab=a.bfloat16(); bb16=bb.bfloat16()
out['gemm_bf16']=t(lambda: torch.mm(ab,bb16))
xq=torch.randn(M,K,device=dev,dtype=torch.bfloat16); wq=torch.randn(3*K,K,device=dev,dtype=torch.bfloat16); bq=torch.randn(3*K,device=dev,dtype=torch.bfloat16)
out['linear_qkv_bf16']=t(lambda: F.linear(xq,wq,bq))
print(json.dumps(out))
`;

// size overrides the ViT-L/16 shapes, and size.torch = false skips the PyTorch side (the emulator
// smoke test in test/native/cuda_emu.test.ts runs it tiny, to catch errors before a GPU day).
export async function bench(A, size = {}) {
  // ViT-L/16, 16 frames at 224 px; its predictor's heads are 384 / 16 = 24 wide (hdp), and ViT-H's
  // 1280 / 16 = 80 (hdh: the wgmma kernels' 80-wide products)
  const { B = 8, N = 1568, H = 16, hd = 64, hdp = 24, hdh = 80, K = 1024, torch: withTorch = true } = size;
  const C = H * hd, R = B * N, M = B * N, Nn = 4 * K;
  // Random inputs (a constant fill can run faster than real data, and hides wrong indexing).
  let seed = 1;
  const E = (shape) => {
    const t = A.empty(shape, 'float32', 'cuda'), n = shape.reduce((a, b) => a * b, 1);
    t.write(Float32Array.from({ length: n }, () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 - 0.5; }));
    return t;
  };
  const qkv = E([B, N, 3 * C]), o = E([B, N, C]), lse = E([B, H, N]), dout = E([B, N, C]), dqkv = E([B, N, 3 * C]);
  const sc = 1 / Math.sqrt(hd);
  const fwd = () => A.attentionFwd(qkv, 0, qkv, C, qkv, 2 * C, o, lse, H, sc);
  const bwd = () => A.attentionBwd(qkv, 0, qkv, C, qkv, 2 * C, o, lse, dout, dqkv, 0, dqkv, C, dqkv, 2 * C, H, sc);
  const ours = {};
  ours.attn_fwd = timeit(A, fwd);
  ours.attn_fwd_bwd = timeit(A, () => { fwd(); bwd(); });
  const fwd16 = () => A.attentionFwd(qkv, 0, qkv, C, qkv, 2 * C, o, lse, H, sc, true);
  const bwd16 = () => A.attentionBwd(qkv, 0, qkv, C, qkv, 2 * C, o, lse, dout, dqkv, 0, dqkv, C, dqkv, 2 * C, H, sc, true);
  ours.attn_bf16_fwd = timeit(A, fwd16);
  ours.attn_bf16_fwd_bwd = timeit(A, () => { fwd16(); bwd16(); });
  const x = E([R, C]), w = E([C]), b = E([C]), y = E([R, C]), mu = E([R]), rs = E([R]), dx = E([R, C]), dw = E([C]), db = E([C]);
  ours.layernorm = timeit(A, () => { A.layernormFwd(x, w, b, y, mu, rs, 1e-6); A.layernormBwd(y, x, w, mu, rs, dx, dw, db); });
  const a = E([M, K]), bm = E([K, Nn]), cm = E([M, Nn]);
  ours.gemm_fp32 = timeit(A, () => A.gemm(a, bm, cm, false, false, 1, 0, null));
  const a16 = A.empty([M, K], 'bfloat16', 'cuda'), b16 = A.empty([K, Nn], 'bfloat16', 'cuda');
  A.cast(a, a16);
  A.cast(bm, b16);
  ours.gemm_bf16 = timeit(A, () => A.gemm(a16, b16, cm, false, false, 1, 0, null));
  // The qkv projection under bf16: bf16 in, bf16 out, bias fused (cuBLASLt), as the trainer runs it.
  // The bias is bf16, as the trainer passes a bf16 output's bias (native/backend.h).
  const wq = A.empty([3 * K, K], 'bfloat16', 'cuda'), bq = A.empty([3 * K], 'bfloat16', 'cuda'), yq = A.empty([M, 3 * K], 'bfloat16', 'cuda');
  const wq32 = E([3 * K, K]), bq32 = E([3 * K]);
  A.cast(wq32, wq);
  A.cast(bq32, bq);
  wq32.dispose();
  bq32.dispose();
  ours.linear_qkv_bf16 = timeit(A, () => A.gemm(a16, wq, yq, false, true, 1, 0, bq));
  // Attention on bf16 activations (q, k, v and out in bf16), as the trainer runs it.
  const qkv16 = A.empty([B, N, 3 * C], 'bfloat16', 'cuda'), o16 = A.empty([B, N, C], 'bfloat16', 'cuda');
  A.cast(qkv, qkv16);
  const fwdIo = () => A.attentionFwd(qkv16, 0, qkv16, C, qkv16, 2 * C, o16, lse, H, sc, true);
  const bwdIo = () => A.attentionBwd(qkv16, 0, qkv16, C, qkv16, 2 * C, o16, lse, dout, dqkv, 0, dqkv, C, dqkv, 2 * C, H, sc, true);
  ours.attn_io16_fwd = timeit(A, fwdIo);
  ours.attn_io16_fwd_bwd = timeit(A, () => { fwdIo(); bwdIo(); });
  // The backward in one pass with dQ summed by atomics (VJEPA_CUDA_ATTN_BWD=fused), at the
  // encoder's and the predictor's head widths.
  ours.attn_io16_fwd_bwd_fused = withAttnBwd('fused', () => timeit(A, () => { fwdIo(); bwdIo(); }));
  // The kernels on Hopper's wgmma (VJEPA_CUDA_ATTN_FWD=wgmma, VJEPA_CUDA_ATTN_BWD=wgmma; sm_90
  // only, else they fall back and the row says so): the forward alone, then with each backward.
  const wg0 = A.cudaInfo().wgmmaAttention;
  ours.attn_io16_fwd_wgmma = withAttnFwd('wgmma', () => timeit(A, fwdIo));
  ours.wgmma_ran = A.cudaInfo().wgmmaAttention > wg0;
  // head_dim 64's other wgmma geometry: 64-key tiles, two blocks of two warpgroups (WgGeo)
  ours.attn_io16_fwd_wgmma_bn64 = withAttnFwd('wgmma-bn64', () => timeit(A, fwdIo));
  ours.attn_io16_fwd_bwd_wgmma = withAttnFwd('wgmma', () => timeit(A, () => { fwdIo(); bwdIo(); }));
  ours.attn_io16_fwd_bwd_wgmma_fused = withAttnFwd('wgmma', () => withAttnBwd('fused', () => timeit(A, () => { fwdIo(); bwdIo(); })));
  ours.attn_io16_fwd_bwd_wgmma_both = withAttnFwd('wgmma', () => withAttnBwd('wgmma', () => timeit(A, () => { fwdIo(); bwdIo(); })));
  ours.attn_io16_fwd_bwd_wgmma_bn64_both = withAttnFwd('wgmma-bn64', () => withAttnBwd('wgmma', () => timeit(A, () => { fwdIo(); bwdIo(); })));
  // fwd+bwd with bf16 q, k, v, out at another head width (its tensors are the caller's to dispose)
  const attnAt = (hdx) => {
    const Cx = H * hdx, qkvx = A.empty([B, N, 3 * Cx], 'bfloat16', 'cuda'), ox = A.empty([B, N, Cx], 'bfloat16', 'cuda');
    const doutx = E([B, N, Cx]), dqkvx = E([B, N, 3 * Cx]), qkvx32 = E([B, N, 3 * Cx]);
    A.cast(qkvx32, qkvx);
    const scx = 1 / Math.sqrt(hdx);
    const step = () => {
      A.attentionFwd(qkvx, 0, qkvx, Cx, qkvx, 2 * Cx, ox, lse, H, scx, true);
      A.attentionBwd(qkvx, 0, qkvx, Cx, qkvx, 2 * Cx, ox, lse, doutx, dqkvx, 0, dqkvx, Cx, dqkvx, 2 * Cx, H, scx, true);
    };
    return { step, tensors: [qkvx, ox, doutx, dqkvx, qkvx32] };
  };
  const pred = attnAt(hdp), predStep = pred.step;
  ours.attn_pred_fwd_bwd = timeit(A, predStep);
  ours.attn_pred_fwd_bwd_fused = withAttnBwd('fused', () => timeit(A, predStep));
  ours.attn_pred_fwd_bwd_pad32 = withEnv('VJEPA_CUDA_ATTN_NO_HD24', '1', () => timeit(A, predStep));
  // ... and on the wgmma kernels, 24 wide (VJEPA_CUDA_ATTN_WGMMA_HD24=1; sm_90 only)
  const wgp0 = A.cudaInfo().wgmmaAttention;
  ours.attn_pred_fwd_bwd_wgmma = withEnv('VJEPA_CUDA_ATTN_WGMMA_HD24', '1', () =>
    withAttnFwd('wgmma', () => withAttnBwd('wgmma', () => timeit(A, predStep))));
  ours.wgmma_pred_ran = A.cudaInfo().wgmmaAttention > wgp0;
  // ViT-H's heads, 80 wide in both: the default (mma.sync) kernels and all on wgmma
  const vith = attnAt(hdh);
  ours.attn_h_fwd_bwd = timeit(A, vith.step);
  const wgh0 = A.cudaInfo().wgmmaAttention;
  ours.attn_h_fwd_bwd_wgmma = withAttnFwd('wgmma', () => withAttnBwd('wgmma', () => timeit(A, vith.step)));
  ours.wgmma_h_ran = A.cudaInfo().wgmmaAttention > wgh0;
  for (const t of [a16, b16, wq, bq, yq, qkv16, o16, ...pred.tensors, ...vith.tensors]) t.dispose();
  for (const t of [qkv, o, lse, dout, dqkv, x, w, b, y, mu, rs, dx, dw, db, a, bm, cm]) t.dispose();

  const attnFlop = 4 * B * H * N * N * hd;  // fwd: 2 GEMMs of 2*N*N*hd; bwd adds 2.5x (ours: 3.5x, the dQ kernel recomputes; 2.5x in one pass)
  const gemmFlop = 2 * M * K * Nn;
  let torch = {};
  if (!withTorch) torch = { error: 'skipped' };
  else try {
    torch = JSON.parse(execFileSync('python3', ['-c', TORCH, ...[B, N, H, hd, R, C, M, K, Nn, hdp, hdh].map(String)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  } catch (e) {
    torch = { error: e.message.split('\n')[0] };
  }
  const f = (v) => (typeof v === 'number' ? `${v.toFixed(3)} ms` : String(v ?? '-'));
  const ratio = (t, o) => (typeof t === 'number' ? (t / o).toFixed(2) : '-');
  // ours against each SDPA backend timed: "0.61x flash, 0.43x cudnn, 0.43x sdpa"
  const vs = (key, o) => ['flash', 'cudnn', 'sdpa'].map((be) => `${ratio(torch[`${key}_${be}`], o)}x ${be}`).join(', ');
  const tline = (key, what) =>
    `torch SDPA bf16 ${what}: flash (FlashAttention-2) ${f(torch[`${key}_flash`])}, cudnn ${f(torch[`${key}_cudnn`])}, ` +
    `sdpa's own dispatch ${f(torch[`${key}_sdpa`])} (ran ${torch[`${key.replace(/_fwd$/, '')}_ran`] ?? '-'})`;
  console.log(`\nbench (B=${B}, N=${N}, H=${H}, hd=${hd}; layernorm ${R}x${C}; gemm ${M}x${K}x${Nn})`);
  console.log(tline('attn_bf16', 'fwd+bwd'));
  console.log(tline('attn_bf16_fwd', 'fwd'));
  console.log(tline('attn_pred_bf16', `fwd+bwd at hd=${hdp}`));
  console.log(tline('attn_h_bf16', `fwd+bwd at hd=${hdh}`));
  console.log(`attention fwd        ours fp32 ${f(ours.attn_fwd)} (${(attnFlop / ours.attn_fwd / 1e9).toFixed(1)} TFLOP/s)`);
  console.log(`attention fwd+bwd    ours fp32 ${f(ours.attn_fwd_bwd)} | torch SDPA fp32 ${f(torch.attn_fp32)}: ours/torch speed ${ratio(torch.attn_fp32, ours.attn_fwd_bwd)}x`);
  console.log(`attention bf16       ours fwd ${f(ours.attn_bf16_fwd)} (${(attnFlop / ours.attn_bf16_fwd / 1e9).toFixed(1)} TFLOP/s), fwd+bwd ${f(ours.attn_bf16_fwd_bwd)} (fp32 q, k, v, out): ours/torch speed ${vs('attn_bf16', ours.attn_bf16_fwd_bwd)}`);
  console.log(`layernorm fwd+bwd    ours ${f(ours.layernorm)} | torch ${f(torch.layernorm)}`);
  console.log(`gemm                 ours fp32 ${f(ours.gemm_fp32)} (${(gemmFlop / ours.gemm_fp32 / 1e9).toFixed(1)} TFLOP/s) | torch fp32 ${f(torch.gemm_fp32)} tf32 ${f(torch.gemm_tf32)}`);
  console.log(`gemm bf16 (fp32 out) ours ${f(ours.gemm_bf16)} (${(gemmFlop / ours.gemm_bf16 / 1e9).toFixed(1)} TFLOP/s) | torch bf16 ${f(torch.gemm_bf16)}`);
  console.log(`attention bf16 io    ours fwd+bwd ${f(ours.attn_io16_fwd_bwd)} (bf16 q, k, v, out): ours/torch speed ${vs('attn_bf16', ours.attn_io16_fwd_bwd)}`);
  console.log(`attention bf16 io    ours fwd ${f(ours.attn_io16_fwd)} (${(attnFlop / ours.attn_io16_fwd / 1e9).toFixed(1)} TFLOP/s): ours/torch speed ${vs('attn_bf16_fwd', ours.attn_io16_fwd)}`);
  console.log(`attention bf16 io    ours fwd+bwd, one-pass backward ${f(ours.attn_io16_fwd_bwd_fused)} (VJEPA_CUDA_ATTN_BWD=fused): ours/torch speed ${vs('attn_bf16', ours.attn_io16_fwd_bwd_fused)}`);
  const wgNote = ours.wgmma_ran ? 'VJEPA_CUDA_ATTN_FWD=wgmma' : 'wgmma NOT run on this device: the mma.sync kernels';
  console.log(`attention bf16 io    ours fwd on wgmma ${f(ours.attn_io16_fwd_wgmma)} (${(attnFlop / ours.attn_io16_fwd_wgmma / 1e9).toFixed(1)} TFLOP/s; ${wgNote}): ours/torch speed ${vs('attn_bf16_fwd', ours.attn_io16_fwd_wgmma)}`);
  console.log(`attention bf16 io    ours fwd on wgmma, 64-key tiles ${f(ours.attn_io16_fwd_wgmma_bn64)} (${(attnFlop / ours.attn_io16_fwd_wgmma_bn64 / 1e9).toFixed(1)} TFLOP/s; VJEPA_CUDA_ATTN_FWD=wgmma-bn64): ours/torch speed ${vs('attn_bf16_fwd', ours.attn_io16_fwd_wgmma_bn64)}`);
  console.log(`attention bf16 io    ours fwd+bwd with the wgmma fwd, split bwd ${f(ours.attn_io16_fwd_bwd_wgmma)}: ours/torch speed ${vs('attn_bf16', ours.attn_io16_fwd_bwd_wgmma)}`);
  console.log(`attention bf16 io    ours fwd+bwd with the wgmma fwd, one-pass bwd ${f(ours.attn_io16_fwd_bwd_wgmma_fused)}: ours/torch speed ${vs('attn_bf16', ours.attn_io16_fwd_bwd_wgmma_fused)}`);
  console.log(`attention bf16 io    ours fwd+bwd all on wgmma ${f(ours.attn_io16_fwd_bwd_wgmma_both)} (VJEPA_CUDA_ATTN_FWD=wgmma VJEPA_CUDA_ATTN_BWD=wgmma): ours/torch speed ${vs('attn_bf16', ours.attn_io16_fwd_bwd_wgmma_both)}`);
  console.log(`attention bf16 io    ours fwd+bwd all on wgmma, 64-key fwd tiles ${f(ours.attn_io16_fwd_bwd_wgmma_bn64_both)} (VJEPA_CUDA_ATTN_FWD=wgmma-bn64 VJEPA_CUDA_ATTN_BWD=wgmma): ours/torch speed ${vs('attn_bf16', ours.attn_io16_fwd_bwd_wgmma_bn64_both)}`);
  console.log(`predictor attention  hd=${hdp}, bf16 io: ours fwd+bwd ${f(ours.attn_pred_fwd_bwd)} (padded to 32: ${f(ours.attn_pred_fwd_bwd_pad32)}): ours/torch speed ${vs('attn_pred_bf16', ours.attn_pred_fwd_bwd)}`);
  console.log(`predictor attention  hd=${hdp}, bf16 io: ours fwd+bwd, one-pass backward ${f(ours.attn_pred_fwd_bwd_fused)}: ours/torch speed ${vs('attn_pred_bf16', ours.attn_pred_fwd_bwd_fused)}`);
  console.log(`predictor attention  hd=${hdp}, bf16 io: ours fwd+bwd all on wgmma ${f(ours.attn_pred_fwd_bwd_wgmma)} (${ours.wgmma_pred_ran ? 'VJEPA_CUDA_ATTN_WGMMA_HD24=1' : 'wgmma NOT run on this device'}): ours/torch speed ${vs('attn_pred_bf16', ours.attn_pred_fwd_bwd_wgmma)}`);
  console.log(`ViT-H attention      hd=${hdh}, bf16 io: ours fwd+bwd ${f(ours.attn_h_fwd_bwd)}, all on wgmma ${f(ours.attn_h_fwd_bwd_wgmma)} (${ours.wgmma_h_ran ? 'VJEPA_CUDA_ATTN_FWD=wgmma VJEPA_CUDA_ATTN_BWD=wgmma' : 'wgmma NOT run on this device'}): ours/torch speed ${vs('attn_h_bf16', ours.attn_h_fwd_bwd)}; on wgmma ${vs('attn_h_bf16', ours.attn_h_fwd_bwd_wgmma)}`);
  console.log(`linear qkv bf16      ours ${f(ours.linear_qkv_bf16)} (${(3 * gemmFlop / 4 / ours.linear_qkv_bf16 / 1e9).toFixed(1)} TFLOP/s, bias + rounding fused) | torch F.linear bf16 ${f(torch.linear_qkv_bf16)}: ours/torch speed ${ratio(torch.linear_qkv_bf16, ours.linear_qkv_bf16)}x`);
  if (torch.error) console.log(`torch: ${torch.error}`);
}
