#!/usr/bin/env python3
"""Record what the ORIGINAL V-JEPA pretraining video transform computes (DATA-04 .. DATA-07, DATA-09).

Dev-time only: this script imports the original repository (facebookresearch/jepa) from the
path given by --jepa-src and runs its own pretraining transform (app/vjepa/transforms.py,
make_transforms / VideoTransform, which calls random_resized_crop or
random_resized_crop_with_shift, horizontal_flip and the in-place normalisation of
src/datasets/utils/video/transforms.py, and RandomErasing of .../randerase.py). Nothing of the
original is copied here. The output is test/fixtures/original/transforms.safetensors, which
test/data/original-transforms.test.ts compares with lib/data/transforms.ts. CI never runs this.

Needs torch, numpy, torchvision and PIL (the original imports them at module level). Only
torchvision.transforms is used by the code under test; two torchvision modules that merely
register meta/autograd kernels for its compiled detection ops (nms, roi_align, ...) are replaced
by empty modules, so that a torchvision wheel whose compiled ops do not load with the installed
torch (a CUDA wheel next to a CPU torch) can still be used. `cv2` is stubbed when missing: the
original's functional.py imports it for a clip resize helper that the pretraining path never calls.

What is recorded
  1. Geometry (deterministic): a made-up uint8 clip [T, H, W, 3] with pixel value
     (37x + 101y + 53t + 89c + 5((7xy) mod 23)) mod 256 goes through the original's
     VideoTransform (auto_augment off, reprob 0) with the crop box forced (its box sampler
     _get_param_spatial_crop is replaced for that call by one that returns the chosen box)
     and the flip forced (numpy's uniform, which horizontal_flip draws, returns 0.0 to flip or
     0.99 not to). Output [3, T, S, S] float32 per case: non-square 61x97 input, upscale,
     downscale, mixed, identity, 1-pixel-wide boxes, boxes on every border, with and without
     flip; two motion-shift cases (DATA-06: the first- and last-frame boxes are forced).
  2. The normalisation constants the original uses (mean and std times 255, float32).
  3. The crop-box fallback (deterministic): the box returned when no try fits, for several
     frame shapes and aspect ranges (forced by an area scale of 5, which never fits).
  4. The crop-box distribution (DATA-05): N draws of _get_param_spatial_crop per setting, with
     the module's `random` replaced by a counting proxy around random.Random(seed), so the
     number of tries and whether the centred fallback was taken are known. Recorded as
     histograms over fixed bin edges (stored too) and sums, not raw boxes.
  5. Horizontal flip (DATA-07): how often VideoTransform flips a left-to-right gradient clip.
  6. Random erasing (DATA-09): the original's RandomErasing exactly as VideoTransform builds it
     (mode 'pixel', max_count 1, num_splits 1, cube) on zeros [T, 3, S, S]: how often a visible
     rectangle appears, its (h, w) and position histograms, whether it is the same on every
     frame, and the moments of the noise.

Usage (deterministic; same input, byte-identical output, ~10 s):
    PYTHONPATH=/tmp/tvsite python3 reference/original_transforms.py --jepa-src /tmp/jepa-orig \
        [--out test/fixtures/original/transforms.safetensors]
"""

import argparse
import bisect
import contextlib
import json
import math
import os
import random
import sys
import types
from fractions import Fraction

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_safetensors  # noqa: E402

N_BOX = 20000     # crop boxes per distribution setting
N_FLIP = 4000     # clips for the flip frequency
N_ERASE = 20000   # erasing draws per setting


# ---------------------------------------------------------------- importing the original
def _import_original(jepa_src):
    for m in ('torchvision._meta_registrations', 'torchvision._autograd_registrations'):
        sys.modules.setdefault(m, types.ModuleType(m))
    try:
        import cv2  # noqa: F401
    except ImportError:
        cv2 = types.ModuleType('cv2')
        cv2.INTER_LINEAR, cv2.INTER_NEAREST = 1, 0

        def _no_resize(*a, **k):
            raise RuntimeError('cv2 stub: resize is not available')
        cv2.resize = _no_resize
        sys.modules['cv2'] = cv2
    sys.path.insert(0, os.path.abspath(jepa_src))
    import app.vjepa.transforms as AT  # noqa: E402
    import src.datasets.utils.video.transforms as VT  # noqa: E402
    import src.datasets.utils.video.randerase as RE  # noqa: E402
    return AT, VT, RE


# ---------------------------------------------------------------- helpers
def make_clip(T, H, W):
    t, y, x, c = np.meshgrid(np.arange(T), np.arange(H), np.arange(W), np.arange(3), indexing='ij')
    v = (37 * x + 101 * y + 53 * t + 89 * c + 5 * ((7 * x * y) % 23)) % 256
    return v.astype(np.uint8)


@contextlib.contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


class CountingRandom:
    """Stands in for the `random` module inside the original's transforms module."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.uniforms = 0
        self.randints = 0

    def uniform(self, a, b):
        self.uniforms += 1
        return self.r.uniform(a, b)

    def randint(self, a, b):
        self.randints += 1
        return self.r.randint(a, b)


def hist(values, edges):
    h = [0] * (len(edges) + 1)
    for v in values:
        h[bisect.bisect_right(edges, v)] += 1
    return h


def rel_pos(p, free):
    """Position of a box offset p drawn from 0..free, mapped into (0, 1)."""
    return (p + 0.5) / (free + 1)


POS_EDGES = [k / 10 for k in range(1, 10)]


def box_edges(scale, ratio):
    a_lo = max(0.0, scale[0] - 0.02)
    a_hi = min(1.0, scale[1]) + 0.02
    area = [a_lo + (a_hi - a_lo) * k / 8 for k in range(1, 8)]
    l_lo, l_hi = math.log(min(ratio)) - 0.05, math.log(max(ratio)) + 0.05
    aspect = [math.exp(l_lo + (l_hi - l_lo) * k / 8) for k in range(1, 8)]
    return area, aspect


# ---------------------------------------------------------------- 1. geometry
GEOMETRY = [
    # name, H, W, T, S, box (top, left, h, w), flip
    ('full_frame_down', 61, 97, 2, 32, (0, 0, 61, 97), False),
    ('small_box_up', 61, 97, 2, 40, (10, 20, 17, 13), True),
    ('bottom_right_down', 61, 97, 2, 24, (31, 52, 30, 45), False),
    ('right_column_w1', 61, 97, 2, 8, (0, 96, 61, 1), True),
    ('bottom_row_h1', 61, 97, 2, 8, (60, 0, 1, 97), False),
    ('mixed_h_down_w_up', 61, 97, 2, 24, (5, 0, 50, 12), True),
    ('identity', 61, 97, 2, 16, (3, 4, 16, 16), False),
    ('square_input_down', 80, 80, 2, 32, (7, 9, 52, 61), True),
    ('left_border_tall', 61, 97, 3, 20, (0, 0, 61, 44), True),
]
MOTION = [
    # name, H, W, T, S, first box, last box, flip
    ('shift_t5', 61, 97, 5, 16, (2, 3, 30, 40), (20, 50, 41, 47), True),
    ('shift_t11', 61, 97, 11, 12, (2, 0, 20, 7), (30, 90, 31, 7), False),
]


def run_geometry(AT, VT, tensors, meta):
    cases = []

    def run(name, H, W, T, S, boxes, flip, motion):
        it = iter(boxes)
        tf = AT.make_transforms(random_horizontal_flip=True, random_resize_aspect_ratio=(0.75, 1.35),
                                random_resize_scale=(0.3, 1.0), reprob=0.0, auto_augment=False,
                                motion_shift=motion, crop_size=S)
        clip = make_clip(T, H, W)
        u = 0.0 if flip else 0.99
        with patched(VT, '_get_param_spatial_crop', lambda *a, **k: next(it)), \
                patched(np.random, 'uniform', lambda *a, **k: u):
            out = tf(clip)
        assert tuple(out.shape) == (3, T, S, S), out.shape
        assert next(it, None) is None, f'{name}: not every forced box was used'
        tensors[f'geom.{name}'] = out.to(torch.float32).contiguous()
        c = {'name': name, 'H': H, 'W': W, 'T': T, 'S': S, 'boxes': [list(b) for b in boxes], 'flip': flip,
             'motion_shift': motion}
        if motion:
            a, b = boxes
            # per-frame boxes as the original computes them (float32 linspace, then int())
            c['frame_boxes'] = [[int(v) for v in torch.linspace(a[k], b[k], steps=T).tolist()] for k in range(4)]
            c['exact_boxes'] = [[math.trunc(Fraction(a[k]) + Fraction((b[k] - a[k]) * i, T - 1)) for i in range(T)]
                                for k in range(4)]
        cases.append(c)

    for name, H, W, T, S, box, flip in GEOMETRY:
        run(name, H, W, T, S, [box], flip, False)
    for name, H, W, T, S, b0, b1, flip in MOTION:
        run(name, H, W, T, S, [b0, b1], flip, True)
    meta['geometry'] = cases
    tf = AT.make_transforms(auto_augment=False)
    tensors['norm.mean255'] = tf.mean.to(torch.float32).clone()
    tensors['norm.std255'] = tf.std.to(torch.float32).clone()
    tfa = AT.make_transforms(auto_augment=True)
    tensors['norm.mean_autoaug'] = tfa.mean.to(torch.float32).clone()
    tensors['norm.std_autoaug'] = tfa.std.to(torch.float32).clone()


# ---------------------------------------------------------------- 3. fallback boxes
FALLBACK = [
    (100, 250, (0.75, 1.35)), (250, 100, (0.75, 1.35)), (64, 64, (0.75, 1.35)), (61, 97, (0.75, 1.35)),
    (97, 61, (0.75, 1.35)), (40, 400, (0.75, 1.35)), (480, 640, (3 / 4, 4 / 3)), (101, 37, (0.75, 1.35)),
    (5, 1, (0.4, 1.0)), (9, 3, (0.4, 1.0)), (1, 9, (1.0, 2.5)), (7, 2, (1.35, 0.75)), (3, 11, (1.35, 0.75)),
]


def run_fallback(VT, meta):
    rows = []
    for H, W, ratio in FALLBACK:
        cr = CountingRandom(0)
        with patched(VT, 'random', cr):
            box = VT._get_param_spatial_crop((5.0, 5.0), ratio, H, W)
        assert cr.randints == 0 and cr.uniforms == 20
        rows.append({'H': H, 'W': W, 'ratio': list(ratio), 'box': [int(v) for v in box]})
    meta['fallback'] = rows


# ---------------------------------------------------------------- 4. box distribution
BOX_SETTINGS = [
    # name, H, W, scale, ratio (the first four: the shipped pretraining settings of
    # configs/pretrain.yaml and configs/vitl16.yaml on several frame shapes)
    ('shipped_80x80', 80, 80, (0.3, 1.0), (0.75, 1.35)),
    ('shipped_240x320', 240, 320, (0.3, 1.0), (0.75, 1.35)),
    ('shipped_61x97', 61, 97, (0.3, 1.0), (0.75, 1.35)),
    ('shipped_wide_100x250', 100, 250, (0.3, 1.0), (0.75, 1.35)),   # fallback often
    ('shipped_tall_250x100', 250, 100, (0.3, 1.0), (0.75, 1.35)),   # fallback often, other branch
    ('scale_0.9_64x64', 64, 64, (0.9, 1.0), (0.75, 1.35)),           # fallback to the whole frame
    ('probe_240x320', 240, 320, (0.08, 1.0), (0.75, 4 / 3)),        # DATA-10 probe ranges
]


def box_stats(boxes, H, W, scale, ratio):
    """boxes: list of (top, left, h, w, tries, fallback)."""
    a_edges, r_edges = box_edges(scale, ratio)
    n = len(boxes)
    tries = [0] * 11
    joint = [0] * ((len(a_edges) + 1) * (len(r_edges) + 1))
    top_h, left_h = [0] * 10, [0] * 10
    s = {'area': 0.0, 'area2': 0.0, 'logr': 0.0, 'logr2': 0.0, 'top': 0.0, 'top2': 0.0, 'left': 0.0, 'left2': 0.0}
    accepted = 0
    for top, left, h, w, k, fb in boxes:
        tries[10 if fb else k - 1] += 1
        a = h * w / (H * W)
        r = w / h
        joint[bisect.bisect_right(a_edges, a) * (len(r_edges) + 1) + bisect.bisect_right(r_edges, r)] += 1
        s['area'] += a
        s['area2'] += a * a
        s['logr'] += math.log(r)
        s['logr2'] += math.log(r) ** 2
        if not fb:
            accepted += 1
            pt, pl = rel_pos(top, H - h), rel_pos(left, W - w)
            top_h[bisect.bisect_right(POS_EDGES, pt)] += 1
            left_h[bisect.bisect_right(POS_EDGES, pl)] += 1
            s['top'] += pt
            s['top2'] += pt * pt
            s['left'] += pl
            s['left2'] += pl * pl
    return {'n': n, 'accepted': accepted, 'tries': tries, 'joint': joint, 'top_hist': top_h, 'left_hist': left_h,
            'sums': s, 'area_edges': a_edges, 'aspect_edges': r_edges}


def run_boxes(VT, meta):
    out = []
    for k, (name, H, W, scale, ratio) in enumerate(BOX_SETTINGS):
        cr = CountingRandom(5000 + k)
        np.random.seed(5000 + k)
        boxes = []
        with patched(VT, 'random', cr):
            for _ in range(N_BOX):
                u0, r0 = cr.uniforms, cr.randints
                top, left, h, w = VT._get_param_spatial_crop(scale, ratio, H, W)
                fb = cr.randints == r0
                assert 0 <= top and 0 <= left and top + h <= H and left + w <= W
                boxes.append((top, left, h, w, (cr.uniforms - u0) // 2, fb))
        st = box_stats(boxes, H, W, scale, ratio)
        st.update({'name': name, 'H': H, 'W': W, 'scale': list(scale), 'ratio': list(ratio), 'seed': 5000 + k})
        out.append(st)
    meta['boxes'] = out


# ---------------------------------------------------------------- 5. flip
def run_flip(AT, meta):
    T, H, W, S = 2, 8, 12, 4
    x = np.arange(W, dtype=np.uint8) * 20
    clip = np.broadcast_to(x[None, None, :, None], (T, H, W, 3)).copy()
    tf = AT.make_transforms(random_resize_scale=(0.3, 1.0), random_resize_aspect_ratio=(0.75, 1.35), crop_size=S)
    random.seed(7)
    np.random.seed(7)
    flips = 0
    for _ in range(N_FLIP):
        out = tf(clip)
        d = (out[0, :, :, -1] - out[0, :, :, 0])   # [T, S]: right minus left per row
        assert bool((d > 0).all()) or bool((d < 0).all()), 'flip differs between frames or rows'
        flips += int(bool((d < 0).all()))
    meta['flip'] = {'n': N_FLIP, 'flips': flips, 'T': T, 'H': H, 'W': W, 'S': S}


# ---------------------------------------------------------------- 6. erasing
ERASE_SETTINGS = [('s16_p0.5', 16, 2, 0.5), ('s4_p1', 4, 2, 1.0)]


def run_erase(RE, meta):
    rows = []
    for k, (name, S, T, p) in enumerate(ERASE_SETTINGS):
        er = RE.RandomErasing(p, mode='pixel', max_count=1, num_splits=1, device='cpu')
        random.seed(900 + k)
        torch.manual_seed(900 + k)
        visible = 0
        hw = {}
        top_h, left_h = [0] * 10, [0] * 10
        s = {'top': 0.0, 'left': 0.0}
        noise = {'n': 0, 's1': 0.0, 's2': 0.0, 'cross': 0.0}
        same_rect = True
        frames_differ = True
        for _ in range(N_ERASE):
            img = torch.zeros(T, 3, S, S)
            er(img)
            nz = img != 0
            if not bool(nz.any()):
                continue
            visible += 1
            m = nz[0, 0]
            rows_ = torch.nonzero(m.any(1)).flatten()
            cols_ = torch.nonzero(m.any(0)).flatten()
            top, h = int(rows_[0]), int(rows_[-1]) - int(rows_[0]) + 1
            left, w = int(cols_[0]), int(cols_[-1]) - int(cols_[0]) + 1
            rect = torch.zeros(S, S, dtype=torch.bool)
            rect[top:top + h, left:left + w] = True
            same_rect = same_rect and bool((nz == rect).all())
            patch = img[:, :, top:top + h, left:left + w].double()
            if T > 1:
                frames_differ = frames_differ and not bool(torch.equal(patch[0], patch[1]))
            noise['n'] += patch.numel()
            noise['s1'] += float(patch.sum())
            noise['s2'] += float((patch * patch).sum())
            if T > 1:
                noise['cross'] += float((patch[0] * patch[1]).sum())
            key = f'{h},{w}'
            hw[key] = hw.get(key, 0) + 1
            pt, pl = rel_pos(top, S - h), rel_pos(left, S - w)
            top_h[bisect.bisect_right(POS_EDGES, pt)] += 1
            left_h[bisect.bisect_right(POS_EDGES, pl)] += 1
            s['top'] += pt
            s['left'] += pl
        rows.append({'name': name, 'S': S, 'T': T, 'p': p, 'n': N_ERASE, 'visible': visible,
                     'hw': dict(sorted(hw.items())), 'top_hist': top_h, 'left_hist': left_h, 'sums': s,
                     'noise': noise, 'same_rect_every_frame': same_rect, 'noise_differs_between_frames': frames_differ})
    meta['erase'] = rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--jepa-src', required=True, help='root of the original facebookresearch/jepa checkout')
    ap.add_argument('--out', default='test/fixtures/original/transforms.safetensors')
    args = ap.parse_args()
    torch.set_num_threads(1)
    AT, VT, RE = _import_original(args.jepa_src)
    import torchvision
    import PIL
    tensors, meta = {}, {}
    run_geometry(AT, VT, tensors, meta)
    run_fallback(VT, meta)
    run_boxes(VT, meta)
    run_flip(AT, meta)
    run_erase(RE, meta)
    info = {'generator': 'reference/original_transforms.py', 'torch': torch.__version__.split('+')[0],
            'torchvision': torchvision.__version__.split('+')[0], 'pillow': PIL.__version__,
            'n_box': N_BOX, 'n_flip': N_FLIP, 'n_erase': N_ERASE}
    metadata = {k: json.dumps(v, separators=(',', ':')) for k, v in meta.items()}
    metadata['info'] = json.dumps(info, separators=(',', ':'))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_safetensors(args.out, tensors, metadata)
    size = os.path.getsize(args.out)
    print(f'wrote {args.out}: {len(tensors)} tensors, {size} bytes')
    for b in meta['boxes']:
        print(f"  {b['name']}: fallback {b['tries'][10] / b['n']:.4f}, mean area {b['sums']['area'] / b['n']:.4f}")
    print(f"  flip: {meta['flip']['flips']} of {meta['flip']['n']}")
    for e in meta['erase']:
        print(f"  erase {e['name']}: visible {e['visible']} of {e['n']}, same rect {e['same_rect_every_frame']}")


if __name__ == '__main__':
    main()
