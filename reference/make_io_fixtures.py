#!/usr/bin/env python3
"""Write the small checkpoint / npy fixtures used by test/io (CI has no torch, so the outputs are committed).

Run from the repo root:  python3 reference/make_io_fixtures.py
Outputs in test/fixtures/io/:
  tiny_ckpt.pth.tar      torch.save of a checkpoint laid out like the original's (MOD-15, TRAIN-12)
  tiny_ckpt_legacy.pth   the same object in torch's legacy (non-zip) format
  expected.json          what the reader must produce (values flattened, C order)
  malicious.pth          a torch.save whose pickle calls os.system (must be refused, never run)
  malicious_proto4.pkl   a protocol-4 pickle (STACK_GLOBAL) calling posix.system, zipped like torch.save
  *.npy                  numpy arrays in the dtypes npy.ts supports, plus a Fortran-order one
"""
import collections, io, json, os, pickle, zipfile
import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'io')
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)


def od(prefix, items):
    return collections.OrderedDict((prefix + k, v) for k, v in items)


enc_items = [
    ('patch_embed.proj.weight', torch.randn(4, 3, 2, 2, 2)),
    ('patch_embed.proj.bias', torch.randn(4)),
    ('pos_embed', torch.randn(1, 8, 4)),
    ('blocks.0.norm1.weight', torch.ones(4)),
    ('blocks.0.attn.qkv.weight', torch.randn(12, 4)),
    ('norm.bias', torch.zeros(4)),
]
encoder = od('module.backbone.', enc_items)
target = od('module.backbone.', [(k, v.clone() * 0.5) for k, v in enc_items])
predictor = od('module.backbone.', [
    ('predictor_embed.weight', torch.randn(3, 4)),
    ('mask_tokens.0', torch.zeros(1, 1, 3)),
    ('mask_tokens.1', torch.zeros(1, 1, 3)),
    ('predictor_proj.weight', torch.randn(4, 3)),
])

# One real AdamW step so `opt` holds tensors, ints and nested param_groups lists.
params = [torch.nn.Parameter(torch.randn(2, 3)), torch.nn.Parameter(torch.randn(3))]
opt = torch.optim.AdamW([{'params': [params[0]], 'weight_decay': 0.04}, {'params': [params[1]], 'weight_decay': 0.0, 'WD_exclude': True}], lr=1e-3)
(params[0].sum() + params[1].pow(2).sum()).backward()
opt.step()

base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
extra = {
    'strided_view': base[1:, ::2],           # offset + non-unit strides, shares storage with base
    'transposed': base.t(),
    'base': base,
    'half': torch.tensor([1.0, -2.5, 65504.0, 6e-8], dtype=torch.float16),
    'bf16': torch.tensor([1.0, -2.5, 3.140625, 1e30], dtype=torch.bfloat16),
    'f64': torch.tensor([[1.5, -2.25]], dtype=torch.float64),
    'i64': torch.tensor([0, -1, 2 ** 40], dtype=torch.int64),
    'i32': torch.tensor([7, -8], dtype=torch.int32),
    'u8': torch.tensor([0, 255], dtype=torch.uint8),
    'bool': torch.tensor([True, False, True]),
    'scalar': torch.tensor(3.5),
    'empty': torch.zeros(0, 3),
    'size': torch.Size([2, 3]),
    'tuple': (1, 'two', None, True, 2.5),
    'np_scalar': np.float64(0.25),
    'big_int': 2 ** 70,
    'neg_int': -5,
    'bytes': b'\x00\x01ab',
    'module_sd': torch.nn.Linear(2, 2).state_dict(),  # a real state_dict carries _metadata (BUILD)
    'np_array': np.arange(3, dtype='<f4'),
}
ckpt = {
    'encoder': encoder,
    'predictor': predictor,
    'target_encoder': target,
    'opt': opt.state_dict(),
    'scaler': None,
    'epoch': 3,
    'loss': 0.5,
    'batch_size': 2,
    'world_size': 1,
    'lr': 1e-3,
    'extra': extra,
}
torch.save(ckpt, os.path.join(OUT, 'tiny_ckpt.pth.tar'))
torch.save(ckpt, os.path.join(OUT, 'tiny_ckpt_legacy.pth'), _use_new_zipfile_serialization=False)


def tensor_json(t):
    dt = {torch.float32: 'float32', torch.float64: 'float64', torch.float16: 'float16', torch.bfloat16: 'bfloat16',
          torch.int64: 'int64', torch.int32: 'int32', torch.uint8: 'uint8', torch.bool: 'bool'}[t.dtype]
    vals = t.contiguous().reshape(-1)
    if t.dtype in (torch.float16, torch.bfloat16):
        vals = vals.float()
    if t.dtype == torch.int64:
        vals = [str(int(v)) for v in vals.tolist()]
    else:
        vals = vals.tolist()
    return {'dtype': dt, 'shape': list(t.shape), 'values': vals}


expected = {
    'encoder': {k: tensor_json(v) for k, v in encoder.items()},
    'predictor': {k: tensor_json(v) for k, v in predictor.items()},
    'target_encoder': {k: tensor_json(v) for k, v in target.items()},
    'extra': {k: tensor_json(v) for k, v in extra.items() if isinstance(v, torch.Tensor)},
    'opt_state': {str(k): {kk: tensor_json(vv) for kk, vv in v.items()} for k, v in opt.state_dict()['state'].items()},
    'opt_param_groups': [{k: v for k, v in g.items()} for g in opt.state_dict()['param_groups']],
}
with open(os.path.join(OUT, 'expected.json'), 'w') as f:
    json.dump(expected, f, indent=0)


class Evil:
    def __reduce__(self):
        return (os.system, ('echo PWNED-by-vjepa-fixture > /tmp/vjepa-pwned',))


torch.save({'encoder': Evil()}, os.path.join(OUT, 'malicious.pth'))

# Protocol 4 (STACK_GLOBAL) pickle in a torch-like zip.
buf = io.BytesIO()
pickle.dump({'x': Evil()}, buf, protocol=4)
with zipfile.ZipFile(os.path.join(OUT, 'malicious_proto4.pkl'), 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('evil/data.pkl', buf.getvalue())

# numpy arrays
np.save(os.path.join(OUT, 'f4.npy'), np.arange(6, dtype='<f4').reshape(2, 3) / 4)
np.save(os.path.join(OUT, 'f8.npy'), np.array([[1.5], [-2.0]], dtype='<f8'))
np.save(os.path.join(OUT, 'i8.npy'), np.array([-(2 ** 40), 1, 2], dtype='<i8'))
np.save(os.path.join(OUT, 'i4.npy'), np.array([[[1, -2]]], dtype='<i4'))
np.save(os.path.join(OUT, 'u1.npy'), np.array([0, 7, 255], dtype='|u1'))
np.save(os.path.join(OUT, 'scalar.npy'), np.array(2.5, dtype='<f4'))
np.save(os.path.join(OUT, 'fortran.npy'), np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))
print('wrote', sorted(os.listdir(OUT)))
