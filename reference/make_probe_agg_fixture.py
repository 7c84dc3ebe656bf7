"""Write test/fixtures/probe/agg.safetensors: the frozen-eval clip aggregation (MOD-14) and the
multi-view loss / prediction (EVAL-04) of the original, on encoder outputs given directly.

    python3 reference/make_probe_agg_fixture.py [--out test/fixtures/probe]

The "encoder" is a fixed per-clip token map (clip -> [N, D]) so the test checks the regrouping:
all S*V*B clips batched segment-major, then view, then sample; out[view][segment] = [B, N, D];
attend_across_segments concatenates each view's segments along time (reshape [B, T', H'W', D],
cat on T', flatten). CE is averaged over classifier calls; the prediction is the argmax of the mean
softmax over calls. Written from the spec, deterministic (fixed seeds, 1 thread), fp32.
"""
import argparse
import collections
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_safetensors  # noqa: E402
from vjepa_model import AttentiveClassifier  # noqa: E402

CFG = dict(S=2, V=3, B=3, Tp=2, HW=4, D=16, heads=2, classes=3)


def clip_aggregation(x_segments_views, encode, attend):
    """x[s][v] = [B, ...] clip tensors -> out[v] (attend) or out[v][s] (not)."""
    S, V = len(x_segments_views), len(x_segments_views[0])
    B = x_segments_views[0][0].shape[0]
    flat = torch.cat([x_segments_views[s][v] for s in range(S) for v in range(V)], dim=0)
    z = encode(flat)  # [S*V*B, N, D]
    out = [[None] * S for _ in range(V)]
    for s in range(S):
        for v in range(V):
            i = s * V + v
            out[v][s] = z[i * B:(i + 1) * B]
    if not attend:
        return out
    res = []
    for v in range(V):
        segs = [o.reshape(B, CFG['Tp'], CFG['HW'], -1) for o in out[v]]
        res.append(torch.cat(segs, dim=1).flatten(1, 2))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'probe'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(3)
    S, V, B, D, C = CFG['S'], CFG['V'], CFG['B'], CFG['D'], CFG['classes']
    N = CFG['Tp'] * CFG['HW']
    clf = AttentiveClassifier(D, CFG['heads'], C, 1)
    with torch.no_grad():  # sharper attention and larger logits, so the clip order changes the answer
        xa = clf.pooler.cross_attention_block.xattn
        for w in (clf.pooler.query_tokens, xa.q.weight, xa.kv.weight, xa.proj.weight):
            w.mul_(25.0)
        clf.linear.weight.mul_(5.0)
    g = torch.Generator().manual_seed(7)
    # clip id -> tokens; the "clip" is just its id so the fixture pins the batching order.
    table = 2.0 * torch.randn(S * V * B, N, D, generator=g)
    x = [[torch.tensor([(s * V + v) * B + b for b in range(B)], dtype=torch.float32) for v in range(V)] for s in range(S)]
    encode = lambda ids: table[ids.long()]  # noqa: E731
    labels = torch.tensor([2, 0, 1])
    tensors = collections.OrderedDict((f'classifier.{k}', v.clone()) for k, v in clf.state_dict().items())
    tensors['features'] = table  # what the encoder returns for the batched clips, in batching order
    tensors['labels'] = labels.to(torch.int32)
    summary = {}
    for attend in (True, False):
        out = clip_aggregation(x, encode, attend)
        calls = out if attend else [o for per_view in out for o in per_view]
        with torch.no_grad():
            logits = [clf(c) for c in calls]
        loss = sum(F.cross_entropy(l, labels) for l in logits) / len(logits)
        probs = sum(F.softmax(l, dim=1) for l in logits) / len(logits)
        pred = probs.argmax(dim=1)
        key = 'attend' if attend else 'separate'
        tensors[f'{key}.logits'] = torch.stack(logits)  # [calls, B, C]
        tensors[f'{key}.loss'] = loss.reshape(1)
        tensors[f'{key}.probs'] = probs
        tensors[f'{key}.pred'] = pred.to(torch.int32)
        tensors[f'{key}.correct'] = (pred == labels).sum().to(torch.int32).reshape(1)
        summary[key] = dict(calls=len(logits), loss=loss.item(), pred=pred.tolist())
    os.makedirs(args.out, exist_ok=True)
    save_safetensors(os.path.join(args.out, 'agg.safetensors'), tensors, {'config': json.dumps(CFG), 'summary': json.dumps(summary)})
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
