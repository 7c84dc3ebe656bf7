"""Side-by-side PyTorch CPU numbers for the TS bench (schema in reference/README.md).

    python3 reference/bench_torch.py --threads 2 --json [--only gemm|attention|layernorm|step|dispatch|embed]

With --json, stdout carries exactly one JSON object (everything else goes to stderr). A part that
fails is reported as {"error": "..."} and the exit status is 1; the JSON is still printed.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

GEMM_SHAPES = [(4096, 384, 384), (4096, 1536, 384), (4096, 384, 1536), (2048, 2048, 2048)]  # (M, N, K)
ATTN = dict(batch=8, heads=3, n=392, head_dim=64)
LN = dict(rows=8 * 392, dim=192)
# Bench step (spec section 9 widths): vit_tiny depth 6, predictor 96x4, 16 frames at 112 px, p16, t2 -> 8x7x7.
STEP = dict(img_size=112, patch_size=16, num_frames=16, tubelet_size=2, embed_dim=192, depth=6, num_heads=3,
            mlp_ratio=4.0, pred_embed_dim=96, pred_depth=4, batch=8, uniform_power=True)
# Mean batch-min sizes (B=8) of the MASK-02 algorithm on the 8x7x7 grid with the shipped mask configs
# (short: 8 blocks, scale 0.15; long: 2 blocks, scale 0.7; aspect 0.75-1.5; full temporal extent),
# numpy Monte-Carlo over 2000 batches: short K_enc 98.9, K_pred 205.3; long K_enc 42.0, K_pred 275.9.
STEP_MASKS = dict(ctx_0=99, tgt_0=205, ctx_1=42, tgt_1=276)
# Dispatch-bound step: the ViT-L step's structure (encoder depth 24, predictor depth 12) at width 16 on
# 4 tokens, so that every op's compute is negligible and the time is the framework's per-op cost.
DISPATCH = dict(img_size=16, patch_size=8, num_frames=2, tubelet_size=2, embed_dim=16, depth=24, num_heads=1,
                mlp_ratio=4.0, pred_embed_dim=16, pred_depth=12, batch=1, uniform_power=True)
DISPATCH_MASKS = dict(ctx_0=1, tgt_0=3, ctx_1=1, tgt_1=3)
# Frozen features (vjepa-embed's forward, the probes' encoder): the released ViT-L/16 on one 16x224² clip,
# 8x14x14 = 1568 tokens, no graph (inference_mode).
EMBED = dict(img_size=224, patch_size=16, num_frames=16, tubelet_size=2, embed_dim=1024, depth=24, num_heads=16,
             mlp_ratio=4.0, batch=1, uniform_power=True)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def timeit(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def bench_gemm(reps):
    res = []
    for m, n, k in GEMM_SHAPES:
        a, b = torch.randn(m, k), torch.randn(k, n)
        c = torch.empty(m, n)
        ts = timeit(lambda: torch.mm(a, b, out=c), warmup=2, reps=reps)
        best = min(ts)
        res.append({'m': m, 'n': n, 'k': k, 'best_ms': best * 1e3, 'median_ms': statistics.median(ts) * 1e3,
                    'gflops': 2.0 * m * n * k / best / 1e9})
        log(f'gemm {m}x{n}x{k}: {res[-1]["gflops"]:.1f} GFLOP/s')
    return res


def _attn_case(nq, reps):
    b, h, n, d = ATTN['batch'], ATTN['heads'], ATTN['n'], ATTN['head_dim']
    q = torch.randn(b, h, nq, d, requires_grad=True)
    k = torch.randn(b, h, n, d, requires_grad=True)
    v = torch.randn(b, h, n, d, requires_grad=True)
    go = torch.randn(b, h, nq, d)

    def fwd():
        with torch.no_grad():
            F.scaled_dot_product_attention(q, k, v)

    def fwd_bwd():
        q.grad = k.grad = v.grad = None
        F.scaled_dot_product_attention(q, k, v).backward(go)

    tf = timeit(fwd, 3, reps)
    tb = timeit(fwd_bwd, 3, reps)
    return statistics.median(tf) * 1e3, statistics.median(tb) * 1e3, min(tb) * 1e3


def bench_attention(reps):
    f, fb, fbmin = _attn_case(ATTN['n'], reps)
    cf, cfb, cfbmin = _attn_case(1, reps)
    b, h, n, d = ATTN['batch'], ATTN['heads'], ATTN['n'], ATTN['head_dim']
    res = {**ATTN, 'dim': h * d, 'dtype': 'float32',
           'self_fwd_ms': f, 'self_fwd_bwd_ms': fb, 'self_fwd_bwd_min_ms': fbmin,
           'self_fwd_gflop': 4.0 * b * h * n * n * d / 1e9,
           'cross_nq': 1, 'cross_fwd_ms': cf, 'cross_fwd_bwd_ms': cfb, 'cross_fwd_bwd_min_ms': cfbmin}
    log(f'attention self fwd {f:.2f} ms, fwd+bwd {fb:.2f} ms; cross(nq=1) fwd {cf:.3f} ms, fwd+bwd {cfb:.3f} ms')
    return res


def bench_layernorm(reps):
    rows, dim = LN['rows'], LN['dim']
    x = torch.randn(rows, dim, requires_grad=True)
    w = torch.ones(dim, requires_grad=True)
    bias = torch.zeros(dim, requires_grad=True)
    go = torch.randn(rows, dim)

    def fwd_bwd():
        x.grad = w.grad = bias.grad = None
        F.layer_norm(x, (dim,), w, bias, 1e-6).backward(go)

    ts = timeit(fwd_bwd, 5, max(reps, 20))
    med = statistics.median(ts)
    nbytes = 5 * rows * dim * 4  # nominal: fwd reads x, writes y; bwd reads x, dy, writes dx
    res = {**LN, 'eps': 1e-6, 'fwd_bwd_ms': med * 1e3, 'fwd_bwd_min_ms': min(ts) * 1e3,
           'rows_per_s': rows / med, 'gb_per_s': nbytes / med / 1e9, 'bytes_model': '5*rows*dim*4'}
    log(f'layernorm fwd+bwd {med * 1e3:.3f} ms, {res["gb_per_s"]:.1f} GB/s nominal')
    return res


def step_matmul_gflop(c, m):
    """Matmul FLOPs per step (2 per multiply-add), forward+backward = 3x forward for the online nets,
    forward only for the target encoder; attention counted as 4*n^2*d per block forward."""
    grid = (c['num_frames'] // c['tubelet_size'], c['img_size'] // c['patch_size'], c['img_size'] // c['patch_size'])
    n = grid[0] * grid[1] * grid[2]
    d, dp = c['embed_dim'], c['pred_embed_dim']
    patch = 2 * n * (3 * c['tubelet_size'] * c['patch_size'] ** 2) * d

    def blocks(depth, tok, w):
        return depth * (24 * tok * w * w + 4 * tok * tok * w)

    target = patch + blocks(c['depth'], n, d)
    online = 0
    for i in range(2):
        kc, kt = m[f'ctx_{i}'], m[f'tgt_{i}']
        online += patch + blocks(c['depth'], kc, d)  # each context pass embeds the full clip (MOD-09)
        online += blocks(c['pred_depth'], kc + kt, dp) + 2 * kc * d * dp + 2 * kt * dp * d
    return c['batch'] * (target + 3 * online) / 1e9, n


def bench_step(reps, c=STEP, m=STEP_MASKS):
    from vjepa_model import Predictor, VisionTransformer, init_pretrain_
    from vjepa_step import Schedule, make_state, train_step
    torch.manual_seed(0)
    enc = VisionTransformer(c['img_size'], c['patch_size'], c['num_frames'], c['tubelet_size'], c['embed_dim'],
                            c['depth'], c['num_heads'], c['mlp_ratio'], 1e-6, c['uniform_power'])
    pred = Predictor(c['img_size'], c['patch_size'], c['num_frames'], c['tubelet_size'], c['embed_dim'],
                     c['pred_embed_dim'], c['pred_depth'], c['num_heads'], c['mlp_ratio'], 1e-6,
                     c['uniform_power'], 2)
    init_pretrain_(enc, pred)
    state = make_state(enc, pred)
    n = enc.pos_embed.shape[1]
    b = c['batch']
    x = torch.randn(b, 3, c['num_frames'], c['img_size'], c['img_size'])
    g = torch.Generator().manual_seed(1)
    ctx, tgt = [], []
    for i in range(2):
        perms = [torch.randperm(n, generator=g) for _ in range(b)]
        ctx.append(torch.stack([p[:m[f'ctx_{i}']].sort().values for p in perms]))
        tgt.append(torch.stack([p[m[f'ctx_{i}']:m[f'ctx_{i}'] + m[f'tgt_{i}']].sort().values for p in perms]))
    sched = Schedule(ipe=300, epochs=10, warmup=1, ipe_scale=1.25, start_lr=2e-4, lr=6.25e-4, final_lr=1e-6,
                     wd=0.04, final_wd=0.4, ema0=0.998, ema1=1.0)
    losses = []

    def one():
        out = train_step(state, x, ctx, tgt, epoch=0, sched=sched, loss_exp=1.0, reg_coeff=0.0, clip_grad=10.0)
        losses.append(out['loss'].item())

    ts = timeit(one, 2, reps)
    gflop, ntok = step_matmul_gflop(c, m)
    med = statistics.median(ts)
    res = {'config': c, 'tokens': ntok, 'masks': m, 'loss': 'L1 (loss_exp 1), reg computed with coeff 0',
           'optimizer': 'AdamW 4 groups + EMA, no clipping (epoch 0 <= warmup)', 'dtype': 'float32',
           'ms_median': med * 1e3, 'ms_min': min(ts) * 1e3, 'ms_mean': statistics.mean(ts) * 1e3,
           'steps_timed': reps, 'warmup_steps': 2, 'gflop_matmul': gflop, 'gflops_achieved': gflop / med,
           'first_loss': losses[0], 'last_loss': losses[-1]}
    log(f'step median {med * 1e3:.1f} ms ({gflop:.1f} GFLOP matmul, {gflop / med:.1f} GFLOP/s)')
    return res


def bench_dispatch(reps):
    return bench_step(reps, DISPATCH, DISPATCH_MASKS)


def bench_embed(reps, c=EMBED):
    from vjepa_model import VisionTransformer
    torch.manual_seed(0)
    enc = VisionTransformer(c['img_size'], c['patch_size'], c['num_frames'], c['tubelet_size'], c['embed_dim'],
                            c['depth'], c['num_heads'], c['mlp_ratio'], 1e-6, c['uniform_power']).eval()
    x = torch.randn(c['batch'], 3, c['num_frames'], c['img_size'], c['img_size'])
    with torch.inference_mode():
        ts = timeit(lambda: enc(x), 1, reps)
        # bf16 mixed precision as vjepa-embed --dtype bfloat16 runs it: CPU autocast (oneDNN's bf16 GEMMs)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            ts16 = timeit(lambda: enc(x), 1, reps)
    n = enc.pos_embed.shape[1]
    d, L, b = c['embed_dim'], c['depth'], c['batch']
    # the blocks' GEMMs (qkv, proj, fc1, fc2: 12 d² per token) plus attention's two products (4 n² d)
    gflop = b * L * (2 * n * 12 * d * d + 4 * n * n * d) / 1e9
    med, med16 = statistics.median(ts), statistics.median(ts16)
    log(f'embed median {med * 1e3:.0f} ms ({gflop:.0f} GFLOP, {gflop / med:.1f} GFLOP/s); '
        f'bf16 autocast {med16 * 1e3:.0f} ms ({gflop / med16:.1f} GFLOP/s)')
    return {'config': c, 'tokens': n, 'dtype': 'float32', 'ms_median': med * 1e3, 'ms_min': min(ts) * 1e3,
            'bf16_ms_median': med16 * 1e3, 'bf16_ms_min': min(ts16) * 1e3,
            'forwards_timed': reps, 'warmup': 1, 'gflop': gflop, 'gflops_achieved': gflop / med}


PARTS = {'gemm': bench_gemm, 'attention': bench_attention, 'layernorm': bench_layernorm, 'step': bench_step,
         'dispatch': bench_dispatch, 'embed': bench_embed}


def cpu_name():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--json', action='store_true', help='print one JSON object on stdout')
    ap.add_argument('--only', choices=sorted(PARTS), help='run a single part')
    ap.add_argument('--reps', type=int, default=None, help='timed repeats per measurement (default per part)')
    args = ap.parse_args()
    if args.threads < 1:
        ap.error('--threads must be >= 1')
    torch.set_num_threads(args.threads)
    default_reps = {'gemm': 8, 'attention': 10, 'layernorm': 30, 'step': 5, 'dispatch': 40, 'embed': 3}
    result = {'schema': 'vjepa-bench-torch/1', 'torch_version': torch.__version__, 'threads': torch.get_num_threads(),
              'cpu': cpu_name(), 'python': platform.python_version()}
    failed = False
    for name in ([args.only] if args.only else list(PARTS)):
        try:
            with torch.inference_mode(False):
                result[name] = PARTS[name](args.reps or default_reps[name])
        except Exception as e:  # keep the JSON parseable for the caller
            failed = True
            log(traceback.format_exc())
            result[name] = {'error': f'{type(e).__name__}: {e}'}
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=1))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
