#!/usr/bin/env python3
"""Record what the ORIGINAL V-JEPA evaluation video transform computes (DATA-10, validation side).

Dev-time only. The original repository (facebookresearch/jepa) is imported from --jepa-src and its own
code is run: evals/video_classification_frozen/utils.py make_transforms(training=False, ...), which is
VideoTransform's eval path for one view (Resize of the short side to int(S*256/224) with cv2 INTER_LINEAR
on uint8 frames, CenterCrop, ClipToTensor, Normalize) and EvalVideoTransform for several views (short side
resized to S, V windows along the long side). Nothing of the original is copied here. The result,
test/fixtures/original/eval_transforms.safetensors, is read by test/data/original-eval-transforms.test.ts,
which drives lib/data/transforms.ts evalClipTransform on the same uint8 clips. CI never runs this script.

Needs torch, numpy, torchvision, PIL and opencv (cv2): the original imports them at module level, and cv2
does the resize under test. A torchvision wheel built for CUDA next to a CPU-only torch fails at import
while registering fake/autograd kernels for its compiled detection operators (torchvision::nms, ...); none
of that is used here, so the two registration modules are pre-seeded in sys.modules as empty modules.

Inputs (all uint8 [T, H, W, 3], RGB, built from formulas that the test re-implements bit for bit):
  * "mix" clips for value checks, per pixel (x column, y row, t frame):
        R = 200*((x + y + t) & 1) + (5x + 3y) mod 50           1-pixel checkerboard on a gradient
        G = floor(((n * 2654435761) mod 2^32) / 2^24),          hash noise, with
            n = (7x^2 + 13y^2 + 3xy + 37t + 11x + 17y) mod 65521
        B = floor(250 (x + 2y) / (W + 2H - 3)) + 5t             smooth diagonal ramp
    Every one-pixel (or half-pixel) misplacement of a crop or of the resampling grid changes G by tens of
    units. The original's output values are stored exactly, as the uint8 levels they were normalised from
    (the script checks that normalising those levels reproduces the original's float32 output bit for bit),
    and for two cases also as the original's float32 tensors.
  * "ramp" clips (T = 2) for geometry: frame 0 holds the column index (R = x mod 256, G = 16 floor(x/256),
    B = 0), frame 1 the row index (same with y), so a float resampler's output decodes to the source
    coordinate it sampled: coord = R + 16 G. Only the geometry the original used is stored for these.

Geometry of every case is recorded from the original while it runs: the dsize passed to cv2.resize (or none
when the original skips the resize because the short side already has the target size), the top/left of
the single-view CenterCrop (its crop_clip call), and for several views the window start found by matching
each view against the resized frames. The script then checks that crop(resized) explains the original's
output exactly, so the recorded numbers are what the original did, not what this script thinks it does.
Also recorded: the normalisation constants (float32) the original's default passes.

Usage (deterministic; the same environment gives a byte-identical file, ~8 s):
    pip install --no-deps --no-index --target /tmp/evsite torchvision-0.28.0-*.whl pillow-11.3.0-*.whl \
        opencv_python_headless-4.14.0.94-*.whl
    PYTHONPATH=/tmp/evsite python3 reference/original_eval_transforms.py --jepa-src /tmp/jepa-orig \
        [--out test/fixtures/original/eval_transforms.safetensors]
"""

import argparse
import contextlib
import io
import json
import os
import struct
import sys
import types

import numpy as np
import torch

NORM = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # the original's default, passed explicitly below


# ------------------------------------------------------------------------------------------ import
def load_original(jepa_src):
    """Import the original's eval utilities with torchvision's operator registration neutralised."""
    for name in ('torchvision._meta_registrations', 'torchvision._autograd_registrations'):
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)  # empty: registers nothing
    import cv2
    sys.path.insert(0, os.path.abspath(jepa_src))
    import evals.video_classification_frozen.utils as EU
    import src.datasets.utils.video.functional as FF
    return EU, FF, cv2


# ------------------------------------------------------------------------------------------ inputs
def mix_clip(T, H, W):
    t, y, x = np.meshgrid(np.arange(T, dtype=np.int64), np.arange(H, dtype=np.int64), np.arange(W, dtype=np.int64), indexing='ij')
    r = 200 * ((x + y + t) & 1) + (5 * x + 3 * y) % 50
    n = (7 * x * x + 13 * y * y + 3 * x * y + 37 * t + 11 * x + 17 * y) % 65521
    g = ((n * 2654435761) % (1 << 32)) // (1 << 24)
    b = (250 * (x + 2 * y)) // (W + 2 * H - 3) + 5 * t
    out = np.stack([r, g, b], axis=-1)
    assert out.min() >= 0 and out.max() <= 255
    return out.astype(np.uint8)


def ramp_clip(H, W):
    assert H < 4096 and W < 4096
    out = np.zeros((2, H, W, 3), np.uint8)
    x = np.arange(W)
    y = np.arange(H)
    out[0, :, :, 0] = (x & 255)[None, :]
    out[0, :, :, 1] = (16 * (x >> 8))[None, :]
    out[1, :, :, 0] = (y & 255)[:, None]
    out[1, :, :, 1] = (16 * (y >> 8))[:, None]
    return out


# ------------------------------------------------------------------------------------------ cases
def value_cases():
    """(name, T, H, W, S, V, note). All "mix" inputs; output stored."""
    return [
        ('v1_land_half_even_long', 2, 36, 42, 16, 1, 'short 36->18, long 42->21: left (21-16)/2 = 2.5 -> 2 (half to even)'),
        ('v1_port_half_even_long', 2, 42, 36, 16, 1, 'portrait mirror of the above: top 2.5 -> 2'),
        ('v1_S24_1.5_and_9.5', 2, 31, 50, 24, 1, 'short -> 27: top 1.5 -> 2; long -> 43: left 9.5 -> 10'),
        ('v1_S40_2.5_and_4.5', 2, 50, 55, 40, 1, 'short -> 45: top 2.5 -> 2; long 49.5 -> 49: left 4.5 -> 4'),
        ('v1_upscale', 2, 12, 20, 16, 1, 'upscale 12x20 -> 18x30'),
        ('v1_identity_land', 2, 18, 29, 16, 1, 'short side already 18: no resize; left 6.5 -> 6'),
        ('v1_identity_port', 2, 29, 18, 16, 1, 'portrait, no resize'),
        ('v1_square', 2, 23, 23, 16, 1, 'square 23 -> 18'),
        ('v1_big_downscale', 2, 61, 97, 8, 1, 'factor ~6.8 down, no antialias on either side; top 0.5 -> 0'),
        ('v1_exact_2x', 2, 36, 50, 16, 1, 'exactly 2x down (cv2 takes its area path)'),
        ('v1_S64_16x9', 1, 90, 160, 64, 1, '16:9, short -> 73, long 129.8 -> 129: top 4.5 -> 4, left 32.5 -> 32'),
        ('v3_land', 2, 30, 47, 16, 3, 'short -> 16, long 25: step 4, windows 0,4,8 (right 1 column unused)'),
        ('v3_port', 2, 47, 30, 16, 3, 'portrait: windows along rows'),
        ('v3_exact_2x', 2, 32, 64, 16, 3, '2x down to 16x32, windows 0,8,16'),
        ('v3_square', 2, 20, 20, 16, 3, 'square: three identical views'),
        ('v3_identity', 2, 16, 27, 16, 3, 'short side already 16: no resize, step 5'),
        ('v3_upscale', 2, 10, 14, 16, 3, 'upscale 10x14 -> 16x22, step 3'),
        ('v2_port', 2, 50, 33, 16, 2, 'V = 2 portrait: top and bottom'),
        ('v4_land', 2, 24, 70, 16, 4, 'V = 4: step 10'),
        ('v3_S64_16x9', 1, 90, 160, 64, 3, '16:9: short -> 64, long 113, step 24'),
    ]


def geometry_cases():
    """(name, H, W, S, V). "ramp" inputs; geometry only."""
    cases = [
        ('g_S224_v1_4x3', 240, 320, 224, 1),
        ('g_S224_v1_3x4', 320, 240, 224, 1),
        ('g_S224_v1_identity', 256, 341, 224, 1),
        ('g_S224_v1_square', 300, 300, 224, 1),
        ('g_S224_v3_4x3', 240, 320, 224, 3),
        ('g_S224_v3_3x4', 320, 240, 224, 3),
        ('g_S224_v3_16x9', 360, 640, 224, 3),
        ('g_S224_v1_16x9', 360, 640, 224, 1),
        ('g_S256_v1', 300, 451, 256, 1),
        ('g_S256_v3', 300, 451, 256, 3),
        ('g_S128_v3_tall', 400, 129, 128, 3),
        ('g_S16_v1_tiny_up', 5, 7, 16, 1),
    ]
    # the short-side size int(S*256/224) over many S: square (S+3)^2 ramps; multiples of 7 hit whole numbers
    sizes = list(range(1, 65)) + list(range(70, 449, 7)) + [480, 512]
    for S in sizes:
        cases.append((f'g_size_S{S}', S + 3, S + 3, S, 1))
    return cases


# ------------------------------------------------------------------------------------------ recording
class Recorder:
    def __init__(self, FF, cv2):
        self.FF, self.cv2 = FF, cv2
        self.dsizes = []
        self.crops = []
        self.resized = []

    @contextlib.contextmanager
    def active(self):
        real_resize, real_crop = self.cv2.resize, self.FF.crop_clip

        def resize(img, dsize, *a, **k):
            out = real_resize(img, dsize, *a, **k)
            self.dsizes.append((tuple(int(v) for v in dsize), k.get('interpolation')))
            self.resized.append(out.copy())
            return out

        def crop_clip(clip, min_h, min_w, h, w):
            self.crops.append((int(min_h), int(min_w), int(h), int(w)))
            return real_crop(clip, min_h, min_w, h, w)

        self.cv2.resize, self.FF.crop_clip = resize, crop_clip
        try:
            yield self
        finally:
            self.cv2.resize, self.FF.crop_clip = real_resize, real_crop


def exact_bilinear(clip, newH, newW):
    """Float64 bilinear resize with half-pixel centres and clamped borders (no rounding): the value cv2's uint8
    INTER_LINEAR approximates. Used only to measure how far the original's own uint8 result is from it."""
    def taps(n, m):
        s = np.maximum((np.arange(m) + 0.5) * n / m - 0.5, 0.0)
        i0 = np.minimum(np.floor(s).astype(np.int64), n - 1)
        i1 = np.minimum(i0 + 1, n - 1)
        return i0, i1, s - i0
    y0, y1, ly = taps(clip.shape[1], newH)
    x0, x1, lx = taps(clip.shape[2], newW)
    f = clip.astype(np.float64)
    rows = f[:, y0] * (1 - ly)[None, :, None, None] + f[:, y1] * ly[None, :, None, None]
    return rows[:, :, x0] * (1 - lx)[None, None, :, None] + rows[:, :, x1] * lx[None, None, :, None]


def make_tf(EU, V, S):
    """The original's validation transform, as its eval builds it (training=False; its note on stdout muted)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return EU.make_transforms(training=False, num_views_per_clip=V, crop_size=S, normalize=NORM)


def normalise_u8(u8_cthw, mean32, std32):
    """What the original's ClipToTensor + Normalize give for uint8 levels, in float32 arithmetic."""
    x = u8_cthw.astype(np.float32) / np.float32(255)
    return (x - mean32[:, None, None, None]) / std32[:, None, None, None]


def run_case(EU, rec, clip, S, V, mean32, std32):
    """Run the original on one clip; return (views float32 [V,3,T,S,S], geometry dict, resized uint8 frames)."""
    T, H, W, _ = clip.shape
    tf = make_tf(EU, V, S)
    rec.dsizes.clear()
    rec.crops.clear()
    rec.resized.clear()
    with rec.active():
        views = tf(clip)
    views = np.stack([v.numpy() for v in views])
    assert views.dtype == np.float32 and views.shape == (V, 3, T, S, S), views.shape
    if rec.dsizes:
        assert len(rec.dsizes) == T and len(set(rec.dsizes)) == 1, rec.dsizes
        (newW, newH), interp = rec.dsizes[0]
        assert interp == rec.cv2.INTER_LINEAR, interp
        frames = np.stack(rec.resized)
        resized = True
    else:
        newH, newW = H, W
        frames = clip
        resized = False
    assert frames.shape == (T, newH, newW, 3)
    offsets = []
    if V == 1:
        assert len(rec.crops) == 1, rec.crops
        top, left, h, w = rec.crops[0]
        assert (h, w) == (S, S)
        offsets.append((top, left))
    else:
        assert not rec.crops
        levels = u8_levels(views, mean32, std32)
        for v in range(V):
            found = []
            for top in range(newH - S + 1):
                for left in range(newW - S + 1):
                    if top and left:
                        continue  # the windows slide along one axis only
                    if np.array_equal(frames[:, top:top + S, left:left + S, :].transpose(3, 0, 1, 2), levels[v]):
                        found.append((top, left))
            assert len(found) == 1, f'view {v}: {len(found)} windows of the resized frames match: {found[:5]}'
            offsets.append(found[0])
    # self-check: crop(resized) normalised reproduces the original's output bit for bit
    for v, (top, left) in enumerate(offsets):
        win = frames[:, top:top + S, left:left + S, :].transpose(3, 0, 1, 2)
        assert np.array_equal(normalise_u8(win, mean32, std32), views[v]), f'view {v} not explained by crop {top},{left}'
    geom = {'resized': resized, 'newH': int(newH), 'newW': int(newW), 'offsets': [list(o) for o in offsets]}
    return views, geom, frames


def u8_levels(views, mean32, std32):
    """Recover the uint8 levels of the original's output and prove the recovery exact."""
    x = views * std32[None, :, None, None, None] + mean32[None, :, None, None, None]
    u = np.rint(x.astype(np.float64) * 255).astype(np.int64)
    assert u.min() >= 0 and u.max() <= 255
    u = u.astype(np.uint8)
    back = np.stack([normalise_u8(u[v], mean32, std32) for v in range(u.shape[0])])
    assert np.array_equal(back, views), 'uint8 level recovery is not exact'
    return u


# ------------------------------------------------------------------------------------------ writing
def write_safetensors(path, tensors, metadata):
    codes = {np.dtype(np.uint8): 'U8', np.dtype(np.float32): 'F32', np.dtype(np.int32): 'I32'}
    header, blobs, off = {}, [], 0
    for name in tensors:
        a = np.ascontiguousarray(tensors[name])
        raw = a.astype(a.dtype.newbyteorder('<'), copy=False).tobytes()
        header[name] = {'dtype': codes[a.dtype], 'shape': list(a.shape), 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    hj = json.dumps(header, separators=(',', ':'), sort_keys=False).encode()
    hj += b' ' * (-len(hj) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--jepa-src', required=True, help='checkout of facebookresearch/jepa')
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'original', 'eval_transforms.safetensors'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    EU, FF, cv2 = load_original(args.jepa_src)
    rec = Recorder(FF, cv2)

    # normalisation constants exactly as the original's Normalize turns them into float32 tensors
    probe = make_tf(EU, 1, 16)
    nt = probe.eval_transform.transforms[-1]
    mean32 = torch.as_tensor(nt.mean, dtype=torch.float32).numpy()
    std32 = torch.as_tensor(nt.std, dtype=torch.float32).numpy()
    tensors = {'norm.mean': mean32, 'norm.std': std32}

    # the short-side size the single-view path asks for, read from the original's own Resize
    short_side = {}
    cases_meta = []
    for name, T, H, W, S, V, note in value_cases():
        clip = mix_clip(T, H, W)
        views, geom, frames = run_case(EU, rec, clip, S, V, mean32, std32)
        u = u8_levels(views, mean32, std32)
        if geom['resized']:
            ex = exact_bilinear(clip, geom['newH'], geom['newW'])
            err = np.abs(frames.astype(np.float64) - ex)
            geom['cv2_err_max'] = round(float(err.max()), 6)
            geom['cv2_err_mean'] = round(float(err.mean()), 6)
        tensors[f'{name}.out_u8'] = u
        if name in ('v1_land_half_even_long', 'v3_land'):
            tensors[f'{name}.out_f32'] = views
        cases_meta.append({'name': name, 'kind': 'mix', 'T': T, 'H': H, 'W': W, 'S': S, 'V': V, 'note': note, **geom})
    for name, H, W, S, V in geometry_cases():
        clip = ramp_clip(H, W)
        _, geom, _ = run_case(EU, rec, clip, S, V, mean32, std32)
        cases_meta.append({'name': name, 'kind': 'ramp', 'T': 2, 'H': H, 'W': W, 'S': S, 'V': V, **geom})
    for S in sorted({c['S'] for c in cases_meta}):
        tf = make_tf(EU, 1, S)
        short_side[S] = int(tf.eval_transform.transforms[0].size)

    meta = {
        'cases': json.dumps(cases_meta, separators=(',', ':')),
        'short_side': json.dumps({str(k): v for k, v in short_side.items()}, separators=(',', ':')),
        'versions': json.dumps({'cv2': cv2.__version__, 'numpy': np.__version__, 'torch': torch.__version__.split('+')[0]}),
        'layout': 'out_u8 / out_f32: [V, 3, T, S, S] (the original returns a list of V tensors [3, T, S, S])',
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_safetensors(args.out, tensors, meta)
    nbytes = os.path.getsize(args.out)
    print(f'wrote {args.out}: {len(cases_meta)} cases ({sum(c["kind"] == "mix" for c in cases_meta)} with values), {nbytes} bytes')


if __name__ == '__main__':
    main()
