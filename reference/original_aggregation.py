#!/usr/bin/env python3
"""Record what the ORIGINAL frozen-eval clip aggregation computes (MOD-14, EVAL-03/04).

    python3 reference/original_aggregation.py --jepa-src /path/to/facebookresearch/jepa \
        [--out test/fixtures/original/aggregation.safetensors]

Dev-time only. The original repository is imported from --jepa-src; nothing of it is copied here. Its own
modules do the work: `VisionTransformer` (src/models/vision_transformer.py), `AttentiveClassifier`
(src/models/attentive_pooler.py) and `ClipAggregation` (evals/video_classification_frozen/utils.py), wrapped
around the encoder as its eval.py wraps it (tubelet_size, attend_across_segments; use_pos_embed left off).
test/probe/original-aggregation.test.ts checks lib/probe/aggregate.ts and lib/probe/step.ts against the file.

Import stubs. utils.py imports torchvision, PIL and (through the video transforms) cv2 at module level, none of
which is installed or needed by ClipAggregation. Before the import, permissive stub modules are put into
sys.modules for exactly these names: `PIL`, `PIL.Image`, `PIL.ImageEnhance`, `PIL.ImageOps`, `torchvision`,
`torchvision.transforms`, `torchvision.transforms.functional`, `cv2`. Every attribute of a stub is a stand-in
object that can be called, indexed and read further; `PIL.__version__` is the string '0.0' because the
randaugment module parses it at import. Nothing in this script calls into them.

eval.py is not imported (it pulls in decord, the data loaders, the distributed helpers). Its run_one_epoch is
reproduced here in our own words, only as far as the numbers go:
  * the classifier is called once per view on the aggregated tokens when attend_across_segments, otherwise once
    per (view, segment);
  * loss = plain cross-entropy (mean over the batch) of each call, averaged over all calls;
  * prediction = argmax of the softmax probabilities averaged over all calls; top-1 = correct / B.
The training loop forms the same loss, with 1 view, and `num_segments` segments only when attending across
segments (1 otherwise; EVAL-03): those layouts are also recorded as training cases, with the gradient of that
loss w.r.t. four classifier tensors (GRAD_KEYS).

Recorded per case: the labels, a clip checksum, the per-(view, segment) token means [V, S, B, D], with
attend_across_segments (distinct views) ClipAggregation's concatenated tokens [V, B, S*N, 16] (every token, the
first 16 of 32 channels, to keep the file small), the logits of every call [calls, B, C], the loss, the averaged
softmax, its argmax and the correct count.

Labels: random and distinct where there is one classifier call (or identical calls); otherwise the first seed
(of 100) whose calls disagree so that, with labels chosen by telling_labels, the averaged-softmax correct count
differs from the count of every single call; failing that, the first seed where it differs from some call's count.
Across the cases a count from the first call only, or from the last only, is refuted.

Clips: random values in [-2, 2) from the tests' mulberry32 stream (test/helpers/random.ts), vectorised here in
numpy (the stream's state after i draws is seed + i * 0x6D2B79F5, so each draw is a pure function of i); clip
(s, v, b) is block (s * V + v) * B + b of one flat buffer, the order lib/probe/aggregate.ts expects. The test
regenerates the buffer from the seed rather than reading megabytes of pixels, and checks a checksum first.

Weights: the original's own init, then redrawn at a working scale (matrices N(0, 1/fan_in), biases N(0, 0.1),
LayerNorm weights 1 + N(0, 0.1); then the query token x3 and the head's weight x3, so that the
inputs rather than the biases decide the class); the fixed sincos pos_embed is kept as built. They are
stored under the original's checkpoint names: `encoder.module.backbone.*` (a pretraining checkpoint's encoder)
and `classifier.module.*` (the DDP-wrapped probe its eval saves). CPU, 1 thread, fixed seeds: deterministic.
"""
import argparse
import collections
import json
import math
import os
import sys
import types
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_io import save_safetensors, load_safetensors  # noqa: E402

MODEL = dict(img_size=32, patch_size=8, num_frames=4, tubelet_size=2, embed_dim=32, depth=1, num_heads=2,
             mlp_ratio=4.0, uniform_power=True, num_classes=3)
B = 2
# (name, S, V, attend, identical_views, training). Distinct seeds per case.
CASES = [
    ('attend_s2_v1', 2, 1, True, False, True),
    ('attend_s2_v2', 2, 2, True, False, False),
    ('attend_s3_v1', 3, 1, True, False, True),
    ('attend_s3_v2', 3, 2, True, False, False),
    ('separate_s2_v1', 2, 1, False, False, False),
    ('separate_s2_v2', 2, 2, False, False, False),
    ('separate_s3_v1', 3, 1, False, False, False),
    ('separate_s3_v2', 3, 2, False, False, False),
    # training layout with attend_across_segments false: one segment, one view
    ('separate_s1_v1', 1, 1, False, False, True),
    # views identical (square frames: DATA-10's spatial views coincide), so encodeBatch's shortcut runs
    ('attend_s2_v2_same', 2, 2, True, True, False),
]
GRAD_KEYS = ['linear.weight', 'linear.bias', 'pooler.query_tokens', 'pooler.cross_attention_block.norm1.weight']
TOKEN_CHANNELS = 16  # aggregated tokens are stored for the first 16 of D = 32 channels (fixture size)


class _Anything:
    """Stand-in for any attribute of a stubbed module."""

    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        return _Anything()

    def __getattr__(self, name):
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        return _Anything()

    def __getitem__(self, key):
        return _Anything()

    def __iter__(self):
        return iter(())


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        return _Anything()


def install_stubs():
    names = ['PIL', 'PIL.Image', 'PIL.ImageEnhance', 'PIL.ImageOps', 'torchvision', 'torchvision.transforms',
             'torchvision.transforms.functional', 'cv2']
    for n in names:
        if n in sys.modules:
            continue
        m = _StubModule(n)
        m.__path__ = []  # importable as a package, so `from PIL import Image` finds the submodule
        sys.modules[n] = m
    sys.modules['PIL'].__version__ = '0.0'
    for parent, child in [('PIL', 'Image'), ('PIL', 'ImageEnhance'), ('PIL', 'ImageOps'),
                          ('torchvision', 'transforms'), ('torchvision.transforms', 'functional')]:
        setattr(sys.modules[parent], child, sys.modules[f'{parent}.{child}'])


def prepare_import(src):
    """Puts the clone at src on the import path, with the stubs; exits naming src if it is not a clone."""
    src = os.path.abspath(src)
    if not os.path.isfile(os.path.join(src, 'evals', 'video_classification_frozen', 'utils.py')):
        raise SystemExit(f'--jepa-src {src}: no evals/video_classification_frozen/utils.py there (a clone of facebookresearch/jepa?)')
    sys.path.insert(0, src)
    install_stubs()


def import_original(src):
    prepare_import(src)
    import src.models.vision_transformer as vit  # noqa: E402
    from src.models.attentive_pooler import AttentiveClassifier  # noqa: E402
    from evals.video_classification_frozen.utils import ClipAggregation  # noqa: E402
    return vit, AttentiveClassifier, ClipAggregation


def mulberry32(seed, n):
    """n draws of test/helpers/random.ts mulberry32(seed), as float64 in [0, 1)."""
    M = np.uint64(0xFFFFFFFF)
    i = np.arange(1, n + 1, dtype=np.uint64)
    a = ((np.uint64(seed) + i * np.uint64(0x6D2B79F5)) & M).astype(np.uint32)
    with np.errstate(over='ignore'):
        t = a
        t = (t ^ (t >> np.uint32(15))) * (t | np.uint32(1))
        t = t ^ (t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61)))
        t = t ^ (t >> np.uint32(14))
    return t.astype(np.float64) / 4294967296.0


def clip_buffer(seed, S, V, identical):
    """[S*V*B, 3, T, H, W] float32, values 4u - 2. With `identical`, every view repeats view 0's clips."""
    c = MODEL
    per = 3 * c['num_frames'] * c['img_size'] * c['img_size']
    shape = (S, V, B, 3, c['num_frames'], c['img_size'], c['img_size'])
    if identical:
        u = mulberry32(seed, S * B * per).reshape(S, 1, B, per)
        u = np.repeat(u, V, axis=1)
    else:
        u = mulberry32(seed, S * V * B * per)
    x = (4.0 * u - 2.0).astype(np.float32).reshape(shape)
    return torch.from_numpy(x.reshape(S * V * B, *shape[3:]).copy())


@torch.no_grad()
def redraw(module, g):
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue  # the fixed sincos table
        if name.endswith('query_tokens'):
            p.copy_(torch.randn(p.shape, generator=g))
        elif p.dim() >= 2:
            p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
        elif name.endswith('weight') and 'norm' in name:
            p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
        else:
            p.copy_(0.1 * torch.randn(p.shape, generator=g))


def build(vit, AttentiveClassifier):
    c = MODEL
    # As the original's vit_* constructors build it (qkv_bias, LayerNorm eps 1e-6), at a tiny size.
    enc = vit.VisionTransformer(img_size=c['img_size'], patch_size=c['patch_size'], num_frames=c['num_frames'],
                                tubelet_size=c['tubelet_size'], embed_dim=c['embed_dim'], depth=c['depth'],
                                num_heads=c['num_heads'], mlp_ratio=c['mlp_ratio'], qkv_bias=True,
                                norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), uniform_power=c['uniform_power'])
    clf = AttentiveClassifier(embed_dim=c['embed_dim'], num_heads=c['num_heads'], depth=1, num_classes=c['num_classes'])
    g = torch.Generator().manual_seed(11)
    redraw(enc, g)
    redraw(clf, g)
    with torch.no_grad():  # a sharper query and a wider head, so that the inputs, not the biases, decide the class
        clf.pooler.query_tokens.mul_(3.0)
        clf.linear.weight.mul_(3.0)
    return enc, clf


def calls_of(outputs, attend):
    """The classifier inputs of run_one_epoch, in our call-major order: per view (attend), else per (view, segment)."""
    return list(outputs) if attend else [o for per_view in outputs for o in per_view]


def loss_and_probs(logits, labels):
    loss = sum(F.cross_entropy(l, labels) for l in logits) / len(logits)
    probs = sum(F.softmax(l, dim=1) for l in logits) / len(logits)
    return loss, probs


def telling_labels(logits):
    """Labels under which the averaged-softmax count differs from the counts of single calls: where the calls
    disagree on a sample, its label is the averaged prediction; elsewhere a class that no call predicts. Returns
    the labels and the calls whose own count differs from the averaged one."""
    probs = sum(F.softmax(l, dim=1) for l in logits) / len(logits)
    avg = probs.argmax(1)
    preds = torch.stack([l.argmax(1) for l in logits])  # [calls, B]
    labels = avg.clone()
    for b in range(B):
        if (preds[:, b] == preds[0, b]).all():
            labels[b] = (preds[0, b] + 1) % MODEL['num_classes']
    n_avg = (avg == labels).sum().item()
    return labels, [i for i, p in enumerate(preds) if (p == labels).sum().item() != n_avg]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--jepa-src', required=True, help='a clone of facebookresearch/jepa')
    ap.add_argument('--out', default=os.path.join(HERE, '..', 'test', 'fixtures', 'original', 'aggregation.safetensors'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    vit, AttentiveClassifier, ClipAggregation = import_original(args.jepa_src)
    enc, clf = build(vit, AttentiveClassifier)
    enc.eval()
    clf.eval()  # no dropout anywhere; train mode would compute the same numbers

    t = collections.OrderedDict()
    for k, v in enc.state_dict().items():
        t[f'encoder.module.backbone.{k}'] = v.detach().clone()
    for k, v in clf.state_dict().items():
        t[f'classifier.module.{k}'] = v.detach().clone()
    summary = {}
    gl = torch.Generator().manual_seed(5)
    for ci, (name, S, V, attend, identical, training) in enumerate(CASES):
        agg = ClipAggregation(enc, tubelet_size=MODEL['tubelet_size'], attend_across_segments=attend)
        random_labels = torch.randperm(MODEL['num_classes'], generator=gl)[:B]  # distinct: a sample mix-up shows in the loss
        weak = None
        refuted = []
        for k in range(100):
            seed = 1000 + 100 * ci + k
            flat = clip_buffer(seed, S, V, identical)
            # the original's input: x[segment][view] = [B, 3, T, H, W]
            x = [[flat[(s * V + v) * B:(s * V + v + 1) * B] for v in range(V)] for s in range(S)]
            with torch.no_grad():
                outputs = agg(x, clip_indices=None)  # use_pos_embed is off: clip indices play no part
            assert len(outputs) == V
            calls = calls_of(outputs, attend)
            with torch.no_grad():
                logits = [clf(o) for o in calls]
            labels = random_labels
            if len(calls) == 1 or identical:
                break
            labels, refuted = telling_labels(logits)
            if len(refuted) == len(calls):
                break
            if refuted and weak is None:
                weak = seed
        else:
            if weak is None:
                raise SystemExit(f'{name}: no seed whose calls disagree')
            seed = weak  # some single call is refuted here, not every one: run it again
            flat = clip_buffer(seed, S, V, identical)
            x = [[flat[(s * V + v) * B:(s * V + v + 1) * B] for v in range(V)] for s in range(S)]
            with torch.no_grad():
                outputs = agg(x, clip_indices=None)
                calls = calls_of(outputs, attend)
                logits = [clf(o) for o in calls]
            labels, refuted = telling_labels(logits)
        loss, probs = loss_and_probs(logits, labels)
        pred = probs.max(dim=1).indices
        top2 = probs.topk(2, dim=1).values
        margin = (top2[:, 0] - top2[:, 1]).min().item()
        assert margin > 1e-3, f'{name}: near-tie in the averaged softmax ({margin})'
        p = f'{name}.'
        t[p + 'clip_check'] = torch.cat([flat.reshape(-1)[:8], flat.reshape(-1).double().sum().float().reshape(1)])
        t[p + 'labels'] = labels.to(torch.int32)
        if attend and not identical:
            # [V, B, S*N, TOKEN_CHANNELS]: ClipAggregation's outputs, every token, the first channels
            t[p + 'tokens'] = torch.stack(list(outputs))[..., :TOKEN_CHANNELS].contiguous()
        # per (view, segment) mean over tokens; for attend, the segment's block of the concatenation
        N = calls[0].shape[1] // (S if attend else 1)
        if attend:
            means = torch.stack([torch.stack([o[:, s * N:(s + 1) * N].mean(1) for s in range(S)]) for o in outputs])
        else:
            means = torch.stack([torch.stack([o.mean(1) for o in per_view]) for per_view in outputs])
        t[p + 'segment_means'] = means  # [V, S, B, D]
        t[p + 'logits'] = torch.stack(logits)  # [calls, B, C], call-major as lib/probe stacks them
        t[p + 'loss'] = loss.detach().reshape(1)
        t[p + 'probs'] = probs
        t[p + 'pred'] = pred.to(torch.int32)
        t[p + 'correct'] = (pred == labels).sum().to(torch.int32).reshape(1)
        info = dict(S=S, V=V, attend=attend, identical_views=identical, training=training, seed=seed,
                    calls=len(logits), loss=round(loss.item(), 6), pred=pred.tolist(), labels=labels.tolist(),
                    margin=round(margin, 4), call_preds=[l.argmax(1).tolist() for l in logits],
                    mean_logit_pred=(sum(logits) / len(logits)).argmax(1).tolist(), single_calls_refuted=refuted)
        if training:
            # run_one_epoch in training: encoder under no_grad, classifier with grad, the same loss.
            assert V == 1 and (S == 1 or attend)
            clf.zero_grad()
            tl, _ = loss_and_probs([clf(o) for o in calls], labels)
            tl.backward()
            params = dict(clf.named_parameters())
            for k in GRAD_KEYS:
                t[p + 'grad.' + k] = params[k].grad.detach().clone()
            clf.zero_grad()
            assert abs(tl.item() - loss.item()) < 1e-6
        # What a wrong grouping would give: the fixture must tell it apart.
        if S * V > 1:
            # the same buffer read sample-major: clip (s, v, b) taken from block (b * S + s) * V + v
            rows = lambda s, v: [(b * S + s) * V + v for b in range(B)]  # noqa: E731
            wrong = [[flat[rows(s, v)] for v in range(V)] for s in range(S)]
            with torch.no_grad():
                wl = [clf(o) for o in calls_of(agg(wrong), attend)]
            wloss, _ = loss_and_probs(wl, labels)
            info['wrong_order_loss'] = round(wloss.item(), 6)
            dl = (torch.stack(wl) - torch.stack(logits)).abs().max().item()
            info['wrong_order_logit_change'] = round(dl, 4)
            assert dl > 1e-2, f'{name}: a wrong grouping gives the same logits'
        summary[name] = info
    # Across the cases, a count taken from the first call only and one from the last call only are both refuted.
    multi = [v for v in summary.values() if v['calls'] > 1 and not v['identical_views']]
    assert any(0 in v['single_calls_refuted'] for v in multi) and any(v['calls'] - 1 in v['single_calls_refuted'] for v in multi)
    meta = {'model': json.dumps(MODEL), 'batch': str(B), 'cases': json.dumps([c[0] for c in CASES]),
            'summary': json.dumps(summary), 'grad_keys': json.dumps(GRAD_KEYS)}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_safetensors(args.out, t, meta)
    back, _ = load_safetensors(args.out)
    assert all(torch.equal(back[k], v.to(back[k].dtype)) for k, v in t.items())
    print(f'{args.out}: {os.path.getsize(args.out)} bytes, {len(t)} tensors')
    for k, v in summary.items():
        print(k, json.dumps(v))


if __name__ == '__main__':
    main()
