"""Minimal safetensors writer/reader (no dependency on the safetensors package).

Layout: u64 little-endian header length, JSON header padded with spaces to a multiple of 8,
then the raw little-endian tensor bytes in header order.
"""
import json
import struct

import numpy as np
import torch

_DTYPES = {torch.float32: ('F32', np.float32), torch.int64: ('I64', np.int64), torch.int32: ('I32', np.int32)}
_BY_NAME = {v[0]: v[1] for v in _DTYPES.values()}


def save_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in _DTYPES:
            raise TypeError(f'{path}: tensor {name!r} has unsupported dtype {t.dtype}')
        code, np_dtype = _DTYPES[t.dtype]
        raw = t.numpy().astype(np_dtype, copy=False).astype(np.dtype(np_dtype).newbyteorder('<')).tobytes()
        header[name] = {'dtype': code, 'shape': list(t.shape), 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    hj = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hj += b' ' * ((-len(hj)) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, 'rb') as f:
        buf = f.read()
    n = struct.unpack('<Q', buf[:8])[0]
    header = json.loads(buf[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', {})
    base = 8 + n
    out = {}
    for name, h in header.items():
        b, e = h['data_offsets']
        arr = np.frombuffer(buf[base + b:base + e], dtype=np.dtype(_BY_NAME[h['dtype']]).newbyteorder('<'))
        out[name] = torch.from_numpy(arr.astype(_BY_NAME[h['dtype']]).reshape(h['shape']))
    return out, meta
