#!/usr/bin/env python3
"""Distributional fingerprint of the ORIGINAL V-JEPA mask collators, for test/masks/original.test.ts.

Why: our masks (lib/masks/) use their own RNG, so they can only agree with the original in
distribution. The other mask tests compare against the spec's MASK-03 table, which is itself a
re-derivation; this script instead runs the upstream code (facebookresearch/jepa, src/masks/) and
records enough statistics, with their sampling spread, for the TS test to check ours with
standard-error based tolerances.

What: for each config below, the original collator is called on `batches` consecutive batches
(fixed torch/numpy seeds, one thread, so the output is reproducible). Per mask config we store
  - k_enc / k_pred: the per-batch context/target length after the batch-min cut
    (mean, sd, 4th central moment, quantiles with the empirical CDF at each quantile);
  - sample_ctx / sample_tgt: the same for a batch size of 1, i.e. one sample's uncut counts;
  - block_sizes: how often each (t, h, w) block size was drawn (one per batch), and for
    multi-config collators the joint draw of all configs (lockstep counters share one draw);
  - token_freq: per (coarsened) token cell, the mean and sd over batches of the fraction of the
    batch's samples that hold the token in their cut context / target;
  - marginals: the same fractions averaged onto the t, h and w axes (full resolution).
Plus a few edge cases whose outcome in the original we record (empty blocks, one-token lists,
blocks covering everything, degenerate tube ratios), for the deviations we make on purpose.

The upstream code is imported from --jepa-src at run time and nothing of it is copied here. The
only instrumentation is wrapping two of its generator methods on the instance to record the block
sizes it draws and to count redraws.

Run from the repo root (about 2 minutes on one CPU core):
    python3 reference/original_mask_stats.py --jepa-src /path/to/jepa
"""
import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch

QUANTILES = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]

SHORT = dict(aspect_ratio=[0.75, 1.5], num_blocks=8, spatial_scale=[0.15, 0.15], temporal_scale=[1.0, 1.0],
             max_temporal_keep=1.0, max_keep=None)
LONG = dict(aspect_ratio=[0.75, 1.5], num_blocks=2, spatial_scale=[0.7, 0.7], temporal_scale=[1.0, 1.0],
            max_temporal_keep=1.0, max_keep=None)

# name, collator kind, grid parameters, batch size, mask list, batches, B=1 samples, seed, spatial coarsening
CONFIGS = [
    # The pretraining mask pair of the upstream vitl16 config (same in vith16), both configs in one
    # collator as the upstream training app builds it; 224 px, 16 frames, patch 16, tubelet 2.
    dict(name='vitl16_224', kind='multiblock3d', num_frames=16, tubelet_size=2, crop_size=224, patch_size=16,
         batch_size=24, masks=[SHORT, LONG], batches=5000, samples=8000, seed=101, coarsen=2),
    # Our configs/pretrain.yaml (the spec's smallest faithful config, section 9): 4x8x8 grid, B=8.
    dict(name='pretrain_default', kind='multiblock3d', num_frames=8, tubelet_size=2, crop_size=64, patch_size=8,
         batch_size=8, masks=[SHORT, LONG], batches=10000, samples=10000, seed=102, coarsen=1),
    # Context restricted to the first steps (max_temporal_keep < 1) on an odd T' (5 -> 2 context
    # steps), with ranges for every scale so t, h, w and the aspect all vary.
    dict(name='temporal_keep', kind='multiblock3d', num_frames=10, tubelet_size=2, crop_size=96, patch_size=16,
         batch_size=16, masks=[dict(aspect_ratio=[0.3, 3.0], num_blocks=3, spatial_scale=[0.1, 0.35],
                                    temporal_scale=[0.3, 1.0], max_temporal_keep=0.5, max_keep=None)],
         batches=10000, samples=10000, seed=103, coarsen=1),
    # max_keep near the median K_enc of each shipped config, so the cap binds in some batches only.
    dict(name='max_keep', kind='multiblock3d', num_frames=8, tubelet_size=2, crop_size=64, patch_size=8,
         batch_size=8, masks=[dict(SHORT, max_keep=64), dict(LONG, max_keep=24)],
         batches=10000, samples=10000, seed=104, coarsen=1),
    # Random tubes (mask_type other than multiblock3d): the upstream default ratio 0.9 and 0.75.
    dict(name='tube_224', kind='random_tube', num_frames=16, tubelet_size=2, crop_size=224, patch_size=16,
         batch_size=24, masks=[dict(ratio=0.9), dict(ratio=0.75)], batches=2500, samples=0, seed=105, coarsen=2),
]


def import_original(src):
    src = os.path.abspath(src)
    for rel in ('src/masks/multiblock3d.py', 'src/masks/random_tube.py'):
        if not os.path.isfile(os.path.join(src, rel)):
            sys.exit(f'--jepa-src {src}: {rel} not found (expected a clone of facebookresearch/jepa)')
    sys.path.insert(0, src)
    from src.masks.multiblock3d import MaskCollator as MultiBlock  # noqa: E402
    from src.masks.random_tube import MaskCollator as Tube  # noqa: E402
    digests = {}
    for rel in ('src/masks/multiblock3d.py', 'src/masks/random_tube.py'):
        with open(os.path.join(src, rel), 'rb') as f:
            digests[rel] = hashlib.sha256(f.read()).hexdigest()
    return MultiBlock, Tube, digests


def make(cls, cfg):
    return cls(cfgs_mask=cfg['masks'], crop_size=cfg['crop_size'], num_frames=cfg['num_frames'],
               patch_size=cfg['patch_size'], tubelet_size=cfg['tubelet_size'])


def record_sizes(collator):
    """Wrap each generator's block-size draw so the sizes it returns are logged (multiblock only)."""
    logs = []
    for g in collator.mask_generators:
        log = []
        inner = g._sample_block_size

        def wrapped(*a, _inner=inner, _log=log, **kw):
            s = _inner(*a, **kw)
            _log.append(tuple(int(v) for v in s))
            return s
        g._sample_block_size = wrapped
        logs.append(log)
    return logs


def r(x, d=5):
    return float(round(float(x), d))


def dist_stats(values):
    """Mean, sd, 4th central moment, min/max and quantiles (with the empirical CDF there)."""
    v = np.asarray(values, dtype=np.float64)
    mean = v.mean()
    sd = v.std(ddof=1) if len(v) > 1 else 0.0
    m4 = ((v - mean) ** 4).mean()
    qs = []
    for q in QUANTILES:
        x = float(np.quantile(v, q, method='inverted_cdf'))
        qs.append(dict(q=q, x=x, cdf=r((v <= x).mean(), 6)))
    return dict(n=int(len(v)), mean=r(mean, 4), sd=r(sd, 4), m4=float(f'{m4:.6g}'), min=float(v.min()),
                max=float(v.max()), quantiles=qs)


def mean_sd(rows):
    a = np.asarray(rows, dtype=np.float64)
    return dict(mean=[r(x) for x in a.mean(0)], sd=[r(x) for x in a.std(0, ddof=1)])


def grid_of(cfg):
    return (cfg['num_frames'] // cfg['tubelet_size'], cfg['crop_size'] // cfg['patch_size'],
            cfg['crop_size'] // cfg['patch_size'])


def run_config(cfg, MultiBlock, Tube):
    T, H, W = grid_of(cfg)
    N = T * H * W
    c = cfg['coarsen']
    assert H % c == 0 and W % c == 0
    B = cfg['batch_size']
    n_masks = len(cfg['masks'])
    cls = MultiBlock if cfg['kind'] == 'multiblock3d' else Tube
    torch.manual_seed(cfg['seed'])
    np.random.seed(cfg['seed'])
    coll = make(cls, cfg)
    size_logs = record_sizes(coll) if cfg['kind'] == 'multiblock3d' else None
    dummy = [0] * B
    k_enc = [[] for _ in range(n_masks)]
    k_pred = [[] for _ in range(n_masks)]
    cells = {key: [[] for _ in range(n_masks)] for key in ('ctx', 'tgt')}
    margs = {key: [{'t': [], 'h': [], 'w': []} for _ in range(n_masks)] for key in ('ctx', 'tgt')}
    tiled = [0] * n_masks
    for _ in range(cfg['batches']):
        _, enc, pred = coll(dummy)
        for i in range(n_masks):
            for key, m, ks in (('ctx', enc[i], k_enc[i]), ('tgt', pred[i], k_pred[i])):
                assert m.dim() == 2 and m.shape[0] == B, m.shape
                ks.append(int(m.shape[1]))
                f = torch.bincount(m.reshape(-1), minlength=N).double().numpy().reshape(T, H, W) / B
                cells[key][i].append(f.reshape(T, H // c, c, W // c, c).mean(axis=(2, 4)).reshape(-1))
                margs[key][i]['t'].append(f.mean(axis=(1, 2)))
                margs[key][i]['h'].append(f.mean(axis=(0, 2)))
                margs[key][i]['w'].append(f.mean(axis=(0, 1)))
            if cfg['kind'] != 'multiblock3d':
                # every sample's context is one spatial pattern repeated at every time step
                e = enc[i].numpy()
                hw = e % (H * W)
                tiled[i] += int(all(np.array_equal(hw[b].reshape(T, -1)[0], hw[b].reshape(T, -1)[d])
                                    for b in range(B) for d in range(T)))
    out = dict(name=cfg['name'], mask_type=cfg['kind'], num_frames=cfg['num_frames'],
               tubelet_size=cfg['tubelet_size'], crop_size=cfg['crop_size'], patch_size=cfg['patch_size'],
               grid=[T, H, W], batch_size=B, seed=cfg['seed'], batches=cfg['batches'], coarsen=c,
               cell_grid=[T, H // c, W // c], masks=cfg['masks'], per_mask=[])
    for i in range(n_masks):
        pm = dict(k_enc=dist_stats(k_enc[i]), k_pred=dist_stats(k_pred[i]),
                  token_freq={key: mean_sd(cells[key][i]) for key in ('ctx', 'tgt')},
                  marginals={key: {ax: mean_sd(margs[key][i][ax]) for ax in ('t', 'h', 'w')}
                             for key in ('ctx', 'tgt')})
        if size_logs is not None:
            counts = {}
            for s in size_logs[i]:
                k = ','.join(map(str, s))
                counts[k] = counts.get(k, 0) + 1
            pm['block_sizes'] = dict(sorted(counts.items()))
        else:
            pm['tiled_batches'] = tiled[i]
        out['per_mask'].append(pm)
    if size_logs is not None and n_masks > 1:
        joint = {}
        for sizes in zip(*size_logs):
            k = '|'.join(','.join(map(str, s)) for s in sizes)
            joint[k] = joint.get(k, 0) + 1
        out['joint_block_sizes'] = dict(sorted(joint.items()))

    # One sample per call (B = 1): uncut per-sample counts, each with its own block-size draw.
    if cfg['samples'] > 0:
        torch.manual_seed(cfg['seed'] + 1000)
        np.random.seed(cfg['seed'] + 1000)
        coll1 = make(cls, cfg)
        s_enc = [[] for _ in range(n_masks)]
        s_pred = [[] for _ in range(n_masks)]
        for _ in range(cfg['samples']):
            _, enc, pred = coll1([0])
            for i in range(n_masks):
                s_enc[i].append(int(enc[i].shape[1]))
                s_pred[i].append(int(pred[i].shape[1]))
        out['samples'] = cfg['samples']
        for i in range(n_masks):
            out['per_mask'][i]['sample_ctx'] = dist_stats(s_enc[i])
            out['per_mask'][i]['sample_tgt'] = dist_stats(s_pred[i])
    return out


class _GaveUp(Exception):
    pass


def edge_case(MultiBlock, Tube, name, kind, masks, num_frames, crop_size, patch_size, batch_size, spec,
              max_block_draws=None):
    """Run one degenerate setting through the original and record what happens.

    With max_block_draws, the generator's block placement is counted and the call abandoned after
    that many placements (a count, not a timer, so the record is deterministic)."""
    cfg = dict(masks=masks, num_frames=num_frames, tubelet_size=2, crop_size=crop_size, patch_size=patch_size)
    rec = dict(name=name, spec=spec, mask_type=kind, masks=masks, num_frames=num_frames, tubelet_size=2,
               crop_size=crop_size, patch_size=patch_size, batch_size=batch_size)
    torch.manual_seed(7)
    np.random.seed(7)
    calls = [0]
    try:
        coll = make(MultiBlock if kind == 'multiblock3d' else Tube, cfg)
        if max_block_draws is not None:
            g = coll.mask_generators[0]
            inner = g._sample_block_mask

            def counted(*a, **kw):
                calls[0] += 1
                if calls[0] > max_block_draws:
                    raise _GaveUp()
                return inner(*a, **kw)
            g._sample_block_mask = counted
        _, enc, pred = coll([0] * batch_size)
        rec.update(outcome='ok', ctx_shape=list(enc[0].shape), tgt_shape=list(pred[0].shape))
    except _GaveUp:
        rec.update(outcome='still_redrawing', redraws=max_block_draws // masks[0]['num_blocks'])
    except Exception as e:  # the original's failure is the datum here
        rec.update(outcome='error', error=f'{type(e).__name__}: {e}')
    return rec


def edge_cases(MultiBlock, Tube):
    base = dict(aspect_ratio=[0.75, 1.5], num_blocks=8, temporal_scale=[1.0, 1.0], max_temporal_keep=1.0,
                max_keep=None)
    return [
        # spatial_scale x grid area < 1 patch: blocks of area 0
        edge_case(MultiBlock, Tube, 'zero_area_block', 'multiblock3d', [dict(base, spatial_scale=[0.01, 0.01])],
                  8, 64, 8, 4, 'MASK-02 edge cases, section 8.10'),
        # area 1 patch but an aspect so thin that one side rounds to 0
        edge_case(MultiBlock, Tube, 'zero_side_block', 'multiblock3d',
                  [dict(base, spatial_scale=[0.02, 0.02], aspect_ratio=[0.05, 0.05])],
                  8, 64, 8, 4, 'MASK-02 edge cases, section 8.10'),
        # 1x2x2 grid, one 1x1 block: exactly one target index per sample
        edge_case(MultiBlock, Tube, 'single_target_index', 'multiblock3d',
                  [dict(base, num_blocks=1, spatial_scale=[0.5, 0.5], aspect_ratio=[1.0, 1.0])],
                  2, 32, 16, 3, 'MASK-02 edge cases, section 8.10'),
        # 1x2x2 grid, three 1x1 blocks placed at random: sometimes a single context index
        edge_case(MultiBlock, Tube, 'single_context_index', 'multiblock3d',
                  [dict(base, num_blocks=3, spatial_scale=[0.5, 0.5], aspect_ratio=[1.0, 1.0])],
                  2, 32, 16, 64, 'MASK-02 edge cases, section 8.10'),
        # blocks covering the whole grid: the context is always empty and is redrawn forever
        edge_case(MultiBlock, Tube, 'full_cover', 'multiblock3d',
                  [dict(base, num_blocks=1, spatial_scale=[1.0, 1.0], aspect_ratio=[1.0, 1.0])],
                  8, 64, 8, 2, 'MASK-02 step 4', max_block_draws=20000),
        edge_case(MultiBlock, Tube, 'tube_ratio_missing', 'random_tube', [dict()], 8, 64, 8, 2, 'MASK-04'),
        edge_case(MultiBlock, Tube, 'tube_ratio_1', 'random_tube', [dict(ratio=1.0)], 8, 64, 8, 2, 'MASK-04'),
        edge_case(MultiBlock, Tube, 'tube_ratio_0', 'random_tube', [dict(ratio=0.0)], 8, 64, 8, 2, 'MASK-04'),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--jepa-src', required=True, help='path of a clone of facebookresearch/jepa')
    ap.add_argument('--out', default=os.path.join('test', 'fixtures', 'original', 'masks.json'))
    ap.add_argument('--only', default=None, help='comma-separated config names (quick runs; give --out too, the test needs every config)')
    args = ap.parse_args()
    torch.set_num_threads(1)
    MultiBlock, Tube, digests = import_original(args.jepa_src)
    configs = [c for c in CONFIGS if args.only is None or c['name'] in args.only.split(',')]
    result = dict(
        about='Statistics of the original facebookresearch/jepa mask collators; written by '
              'reference/original_mask_stats.py, read by test/masks/original.test.ts.',
        original_files_sha256=digests, torch=torch.__version__, numpy=np.__version__,
        quantiles=QUANTILES, configs=[], edge_cases=[])
    for cfg in configs:
        t0 = time.time()
        result['configs'].append(run_config(cfg, MultiBlock, Tube))
        print(f"{cfg['name']}: {time.time() - t0:.1f} s", file=sys.stderr)
    result['edge_cases'] = edge_cases(MultiBlock, Tube)
    for e in result['edge_cases']:
        print(f"edge {e['name']}: {e['outcome']} {e.get('error', '')}", file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    text = json.dumps(result, separators=(',', ':'), sort_keys=False)
    with open(args.out, 'w') as f:
        f.write(text + '\n')
    print(f'wrote {args.out} ({len(text) / 1024:.1f} KiB)', file=sys.stderr)


if __name__ == '__main__':
    main()
