"""The PyTorch yardstick of the GPU step bench (test/gpu/step_bench.mjs): one V-JEPA pretraining
iteration of the models in reference/vjepa_model.py under bf16 autocast, eager, attention through
F.scaled_dot_product_attention (flash on Hopper); backward, clipping, AdamW, EMA. Tries each batch
size in --batches and reports the step time of each that fits.

    python3 reference/bench_step_gpu.py --spec '<json from step_bench.mjs>' --batches 32,24,16 --steps 5

spec: img_size patch_size num_frames tubelet_size embed_dim depth num_heads mlp_ratio pred_embed_dim
pred_depth uniform_power ctx [K per mask config] tgt [K per mask config] device, and optionally masks
{batch: {ctx, tgt}} for mask sizes that differ by batch size (they are batch minima).
Prints one JSON object on stdout; progress goes to stderr.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vjepa_model import Predictor, VisionTransformer, init_pretrain_  # noqa: E402
from vjepa_step import ema_update, jepa_forward, make_state  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sync(dev):
    if dev.type == 'cuda':
        torch.cuda.synchronize(dev)


def run_batch(s, batch, steps, dev, prof_rows=0):
    torch.manual_seed(0)
    enc = VisionTransformer(s['img_size'], s['patch_size'], s['num_frames'], s['tubelet_size'], s['embed_dim'],
                            s['depth'], s['num_heads'], s['mlp_ratio'], 1e-6, s['uniform_power'])
    pred = Predictor(s['img_size'], s['patch_size'], s['num_frames'], s['tubelet_size'], s['embed_dim'],
                     s['pred_embed_dim'], s['pred_depth'], s['num_heads'], s['mlp_ratio'], 1e-6,
                     s['uniform_power'], len(s['ctx']))
    init_pretrain_(enc, pred)
    enc.to(dev)
    pred.to(dev)
    state = make_state(enc, pred)  # target encoder and AdamW on the device
    n = enc.pos_embed.shape[1]
    x = torch.randn(batch, 3, s['num_frames'], s['img_size'], s['img_size'], device=dev)
    g = torch.Generator().manual_seed(1)
    ctx, tgt = [], []
    k = s.get('masks', {}).get(str(batch), s)  # this batch's mask sizes, if given per batch
    for kc, kt in zip(k['ctx'], k['tgt']):
        perms = [torch.randperm(n, generator=g) for _ in range(batch)]
        ctx.append(torch.stack([p[:kc].sort().values for p in perms]).to(dev))
        tgt.append(torch.stack([p[kc:kc + kt].sort().values for p in perms]).to(dev))
    opt = state['opt']
    for grp in opt.param_groups:
        grp['lr'] = 1e-4

    def step():
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16):
            out = jepa_forward(enc, pred, state['target_encoder'], x, ctx, tgt)
        out['loss'].backward()
        torch.nn.utils.clip_grad_norm_(enc.parameters(), 10.0)
        torch.nn.utils.clip_grad_norm_(pred.parameters(), 10.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ema_update(enc, state['target_encoder'], 0.999)
        return out['loss'].item()  # the trainer logs it every step, so it syncs too

    if dev.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(dev)
    losses = [step() for _ in range(2)]
    times = []
    for _ in range(steps):
        sync(dev)
        t0 = time.perf_counter()
        losses.append(step())
        sync(dev)
        times.append(time.perf_counter() - t0)
    if prof_rows:
        from torch.profiler import ProfilerActivity, profile
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == 'cuda' else [])
        with profile(activities=acts) as prof:
            step()
        key = 'self_cuda_time_total' if dev.type == 'cuda' else 'self_cpu_time_total'
        try:
            log(prof.key_averages().table(sort_by=key, row_limit=prof_rows, max_name_column_width=70))
        except Exception:  # newer torch names it device time
            log(prof.key_averages().table(sort_by=key.replace('cuda', 'device'), row_limit=prof_rows, max_name_column_width=70))
    med = statistics.median(times)
    peak = torch.cuda.max_memory_allocated(dev) if dev.type == 'cuda' else 0
    return {'batch': batch, 'ms_median': med * 1e3, 'ms_min': min(times) * 1e3, 'clips_per_s': batch / med,
            'peak_bytes': peak, 'first_loss': losses[0], 'last_loss': losses[-1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--spec', required=True)
    ap.add_argument('--batches', default='16')
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--profile', type=int, default=0, metavar='ROWS',
                    help='after timing the first batch, profile one step and print its top ROWS ops to stderr')
    a = ap.parse_args()
    s = json.loads(a.spec)
    dev = torch.device(s.get('device', 'cuda'))
    if dev.type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False
    results = []
    for i, b in enumerate(int(v) for v in a.batches.split(',')):
        try:
            r = run_batch(s, b, a.steps, dev, a.profile if i == 0 else 0)
            log(f'torch batch {b}: {r["ms_median"]:.1f} ms/step, {r["clips_per_s"]:.2f} clips/s')
            results.append(r)
        except torch.cuda.OutOfMemoryError:
            log(f'torch batch {b}: out of memory')
            results.append({'batch': b, 'error': 'out of memory'})
        if dev.type == 'cuda':
            torch.cuda.empty_cache()
    name = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'
    print(json.dumps({'torch': torch.__version__, 'device_name': name, 'results': results}))


if __name__ == '__main__':
    main()
