#!/usr/bin/env python3
"""Record which frame indices the ORIGINAL V-JEPA code picks for a clip.

Dev-time only: this script imports the original repository (facebookresearch/jepa) from
the path given by --jepa-src and runs its video dataset's clip-index logic on made-up
videos. Nothing of the original is copied here; the output is a JSON fixture that
test/data/original-sampling.test.ts compares with lib/data/sampling.ts.

How the original is driven
  * `decord` is replaced by a fake module put into sys.modules before the import. Its
    VideoReader ignores the file and reports a frame count and an average frame rate that
    this script chooses; its get_batch returns the requested indices themselves, so the
    dataset's return value tells which frames it would have decoded.
  * Modules the import needs but that play no part in sampling are stubbed, and only as far
    as the import requires: `pandas` always (only read_csv, used for index files we do not
    load), and `torch` only when it is not installed (Dataset and the sampler base classes
    that the dataset module and its weighted-sampler import subclass).
  * The loader method is called directly on one dummy file of 4 KiB, so the file-size
    checks (DATA-02, not in scope here) always pass.

What is recorded, per case (video length L, fps, frames_per_clip, frame_step, num_clips,
duration, random_clip_sampling, allow_clip_overlap, filter_short_videos):
  * deterministic outcome: the indices per clip, "rejected" (the loader returned no frames)
    or "error" (the original raised; the exception type is kept);
  * for random sampling: N draws under a fixed numpy seed, per clip the mean, standard
    deviation and empirical CDF (on a small grid) of the first index, the set of distinct
    index patterns relative to the first index, the correlation between the first and
    second clips' starts, and the two exact extremes of the random choice, obtained by
    running the original once with numpy's randint forced to its lowest and once to its
    highest possible value.

Usage: python3 reference/original_sampling.py --jepa-src /tmp/jepa-orig \
           [--out test/fixtures/original/sampling.json]
Deterministic: same input, byte-identical output.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import types
import warnings

import numpy as np

N_DRAWS = 4000
CDF_POINTS = 9


# ---------------------------------------------------------------- fakes / stubs
class _FakeVideo:
    """What the fake decord reports for the next VideoReader that gets opened."""
    length = 0
    fps = 25.0  # None: get_avg_fps raises


class _Batch:
    def __init__(self, idx):
        self._idx = np.asarray(idx, dtype=np.int64)

    def asnumpy(self):
        return self._idx


class _FakeVideoReader:
    def __init__(self, fname, num_threads=0, ctx=None):
        self._len = _FakeVideo.length
        self._fps = _FakeVideo.fps

    def __len__(self):
        return self._len

    def get_avg_fps(self):
        if self._fps is None:
            raise RuntimeError('fake decord: frame rate unavailable')
        return self._fps

    def seek(self, pos):
        pass

    def get_batch(self, indices):
        return _Batch([int(i) for i in indices])


def _install_stubs():
    decord = types.ModuleType('decord')
    decord.VideoReader = _FakeVideoReader
    decord.cpu = lambda i=0: ('cpu', i)
    sys.modules['decord'] = decord

    pandas = types.ModuleType('pandas')

    def _no_csv(*a, **k):
        raise RuntimeError('pandas stub: read_csv is not available')
    pandas.read_csv = _no_csv
    sys.modules['pandas'] = pandas

    try:
        import torch  # noqa: F401  (the real one, if installed)
    except ImportError:
        torch = types.ModuleType('torch')
        utils = types.ModuleType('torch.utils')
        data = types.ModuleType('torch.utils.data')
        distributed = types.ModuleType('torch.utils.data.distributed')
        for name in ('Dataset', 'Sampler', 'DistributedSampler', 'WeightedRandomSampler', 'DataLoader'):
            setattr(data, name, type(name, (object,), {}))
        distributed.DistributedSampler = data.DistributedSampler
        data.distributed = distributed
        utils.data = data
        torch.utils = utils
        sys.modules.update({'torch': torch, 'torch.utils': utils, 'torch.utils.data': data,
                            'torch.utils.data.distributed': distributed})


# ---------------------------------------------------------------- running the original
class _Runner:
    def __init__(self, jepa_src):
        _install_stubs()
        sys.path.insert(0, os.path.abspath(jepa_src))
        from src.datasets.video_dataset import VideoDataset  # noqa: E402
        self.VideoDataset = VideoDataset
        fd, self.fname = tempfile.mkstemp(suffix='.mp4')
        os.write(fd, b'\0' * 4096)
        os.close(fd)

    def close(self):
        os.unlink(self.fname)

    def once(self, c):
        """One call of the original's loader; returns (kind, value)."""
        _FakeVideo.length = c['L']
        _FakeVideo.fps = c['fps']
        ds = self.VideoDataset(
            data_paths=[], frames_per_clip=c['fpc'], frame_step=c['fs'], num_clips=c['nc'],
            random_clip_sampling=c['rand'], allow_clip_overlap=c['overlap'],
            filter_short_videos=c['filter_short'], duration=c['duration'])
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            try:
                buffer, clip_indices = ds.loadvideo_decord(self.fname)
            except Exception as e:  # the original crashes on this input
                return 'error', type(e).__name__
        if len(buffer) == 0:
            return 'rejected', None
        clips = [[int(v) for v in ci] for ci in clip_indices]
        flat = [v for ci in clips for v in ci]
        assert flat == [int(v) for v in buffer], 'get_batch saw other indices than returned'
        return 'indices', clips

    def forced(self, c, which):
        """The original with numpy's randint forced to its lowest/highest value."""
        real = np.random.randint

        def fake(low, high=None, *a, **k):
            if high is None:
                low, high = 0, low
            return low if which == 'low' else high - 1
        np.random.randint = fake
        try:
            return self.once(c)
        finally:
            np.random.randint = real


def _stats(values, lo, hi):
    v = np.asarray(values, dtype=np.float64)
    grid = sorted(set(int(round(x)) for x in np.linspace(lo, hi, CDF_POINTS)))
    return {
        'mean': round(float(v.mean()), 6),
        'sd': round(float(v.std()), 6),
        'min': int(v.min()),
        'max': int(v.max()),
        'distinct': int(len(set(values))),
        'cdf_x': grid,
        'cdf': [round(float((v <= x).mean()), 6) for x in grid],
    }


def run_case(r, c, seed):
    out = dict(c)
    kind, val = r.once(c) if not c['rand'] else (None, None)
    if c['duration'] is not None and c['fps'] is not None and int(c['duration'] * c['fps'] / c['fpc']) == 0:
        # the step truncates to 0; also record the same video with a step of 1 and no duration
        k1, v1 = r.once(dict(c, duration=None, fs=1, rand=False))
        out['alt_fs1'] = {'kind': k1, 'value': v1}
    if not c['rand']:
        out['kind'] = kind
        out['value'] = val
        return out
    # random sampling: is the result random at all?
    low = r.forced(c, 'low')
    high = r.forced(c, 'high')
    if low == high:
        # no random choice made (short video, or rejected/crashed before sampling)
        np.random.seed(seed)
        kind, val = r.once(c)
        assert (kind, val) == low
        out['kind'], out['value'] = kind, val
        out['constant'] = True
        return out
    assert low[0] == 'indices' and high[0] == 'indices'
    np.random.seed(seed)
    draws = []
    for _ in range(N_DRAWS):
        kind, val = r.once(c)
        assert kind == 'indices'
        draws.append(val)
    nc = c['nc']
    clips = []
    for i in range(nc):
        starts = [d[i][0] for d in draws]
        patterns = sorted(set(tuple(v - d[i][0] for v in d[i]) for d in draws))
        st = _stats(starts, low[1][i][0], high[1][i][0])
        st['patterns'] = [list(p) for p in patterns]
        clips.append(st)
    out['kind'] = 'random'
    out['draws'] = N_DRAWS
    out['seed'] = seed
    out['low'] = low[1]
    out['high'] = high[1]
    out['clips'] = clips
    if nc > 1:
        a = np.array([d[0][0] for d in draws], dtype=np.float64)
        b = np.array([d[1][0] for d in draws], dtype=np.float64)
        out['corr01'] = round(float(np.corrcoef(a, b)[0, 1]), 6)
    return out


# ---------------------------------------------------------------- the grid
def _case(L, fpc, fs, nc, rand=False, overlap=False, filter_short=False, duration=None, fps=25.0):
    return {'L': L, 'fps': fps, 'fpc': fpc, 'fs': fs, 'nc': nc, 'duration': duration,
            'rand': rand, 'overlap': overlap, 'filter_short': filter_short}


def _lengths(fpc, fs, nc):
    span = fpc * fs
    ls = {0, 1, 2, nc - 1, nc, nc + 1, span - 1, span, span + 1,
          nc * span - 1, nc * span, nc * span + 1, nc * (span + 1), nc * (span + 1) + 1,
          nc * (span + 2) + nc - 1, 3 * nc * span + 5}
    return sorted(x for x in ls if x >= 0)


def build_cases():
    cases = []
    # deterministic grid (random off): A, B, C, boundaries and too-short videos
    for fpc, fs in ((1, 4), (3, 1), (3, 4), (8, 2), (16, 1), (16, 4)):
        for nc in (1, 2, 3):
            for L in _lengths(fpc, fs, nc):
                for overlap in (False, True):
                    cases.append(_case(L, fpc, fs, nc, overlap=overlap))
    # more clips (K400-style 8 segments), fewer lengths
    for fpc, fs in ((16, 4), (8, 2)):
        span = fpc * fs
        for L in (7, 8, 9, 8 * span - 1, 8 * span, 8 * span + 1, 8 * span + 8, 8 * span + 9, 1000):
            for overlap in (False, True):
                cases.append(_case(L, fpc, fs, 8, overlap=overlap))
    # filter_short_videos: rejects below span, passes at and above
    for fpc, fs, nc in ((16, 4, 1), (8, 2, 2), (3, 1, 3)):
        span = fpc * fs
        for L in (0, 1, span - 1, span, span + 1, 2 * span + 3):
            for overlap in (False, True):
                cases.append(_case(L, fpc, fs, nc, overlap=overlap, filter_short=True))
    # duration: frame step from fps; frame_step (99) must then be ignored
    for fps in (25.0, 29.97, 30.0, 12.5):
        for dur, fpc in ((2.0, 16), (0.7, 7), (1.0, 8)):
            for nc in (1, 2):
                fstp = int(dur * fps / fpc)
                span = fpc * max(fstp, 1)
                for L in sorted({span // 2, span + 1, nc * span + 7}):
                    for overlap in (False, True):
                        cases.append(_case(L, fpc, 99, nc, overlap=overlap, duration=dur, fps=fps))
    # duration with filter_short_videos
    for L in (47, 48, 49):
        cases.append(_case(L, 16, 99, 1, duration=2.0, fps=25.0, filter_short=True))
    # duration edge cases: step truncates to 0, fps 0, fps unavailable
    for fps, L in ((2.0, 10), (2.0, 3), (0.0, 50), (None, 50), (None, 200)):
        for overlap in (False, True):
            cases.append(_case(L, 4, 3, 1, overlap=overlap, duration=1.0, fps=fps))
            cases.append(_case(L, 4, 3, 2, overlap=overlap, duration=1.0, fps=fps))
    # random sampling: window choice in case A; B and C must stay deterministic
    rnd = []
    for fpc, fs in ((16, 4), (3, 1), (1, 5)):
        span = fpc * fs
        for nc in (1, 2, 3):
            for extra in (1, 2, 13, 40):
                rnd.append(_case(nc * (span + extra), fpc, fs, nc, rand=True))
                rnd.append(_case(nc * (span + extra) + nc - 1, fpc, fs, nc, rand=True, overlap=True))
    # large windows (many possible starts): statistics only, extremes exact
    rnd.append(_case(1000, 16, 4, 1, rand=True))
    rnd.append(_case(1000, 16, 4, 2, rand=True, overlap=True))
    rnd.append(_case(2500, 16, 4, 8, rand=True))
    # duration-driven step under random sampling
    rnd.append(_case(120, 16, 99, 1, rand=True, duration=2.0, fps=29.97))
    rnd.append(_case(300, 8, 99, 2, rand=True, duration=1.0, fps=30.0))
    # random on but short: deterministic (B, C), rejection, too few frames
    for L, nc, overlap in ((40, 1, False), (40, 1, True), (100, 2, False), (100, 2, True),
                           (64, 1, False), (65, 1, False), (1, 2, False), (1, 2, True)):
        rnd.append(_case(L, 16, 4, nc, rand=True, overlap=overlap))
    rnd.append(_case(40, 16, 4, 1, rand=True, filter_short=True))
    rnd.append(_case(65, 16, 4, 1, rand=True, filter_short=True))
    return cases, rnd


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--jepa-src', required=True, help='root of the original facebookresearch/jepa checkout')
    ap.add_argument('--out', default='test/fixtures/original/sampling.json')
    args = ap.parse_args()

    r = _Runner(args.jepa_src)
    try:
        det, rnd = build_cases()
        seen, cases = set(), []
        for c in det + rnd:
            key = json.dumps(c, sort_keys=True)
            if key not in seen:
                seen.add(key)
                cases.append(c)
        results = [run_case(r, c, seed=1000 + k) for k, c in enumerate(cases)]
    finally:
        r.close()

    doc = {
        'comment': [
            'Frame indices chosen by the ORIGINAL V-JEPA video loader (facebookresearch/jepa,',
            'VideoDataset.loadvideo_decord) for made-up videos, recorded by',
            'reference/original_sampling.py with a fake decord that reports a chosen length and fps.',
            'kind: indices (value = indices per clip), rejected (no frames returned), error (the',
            'original raised; value = exception type), random (statistics over `draws` draws with',
            'numpy seeded by `seed`; low/high = the indices when the random choice is forced to its',
            'extremes). constant: random sampling was on but no random choice was made.',
            'Read by test/data/original-sampling.test.ts. Regenerate rather than edit.',
        ],
        'n_draws': N_DRAWS,
        'cases': results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    text = json.dumps(doc, separators=(',', ':'))
    # one case per line keeps diffs readable
    text = text.replace(',{"L":', ',\n{"L":').replace('[{"L":', '[\n{"L":')
    with open(args.out, 'w') as f:
        f.write(text + '\n')
    kinds = {}
    for x in results:
        kinds[x['kind']] = kinds.get(x['kind'], 0) + 1
    print(f'{args.out}: {len(results)} cases {kinds}, {len(text)} bytes')


if __name__ == '__main__':
    main()
