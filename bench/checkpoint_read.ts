// Reading a frozen encoder out of a training checkpoint in the original's layout, as vjepa-probe and
// vjepa-embed do: a ViT-B/16-sized file (online and target encoder, AdamW moments; 1.4 GB) written by
// torch. Ours reads only the target encoder's storages (readTorchCheckpoint's select); the reference is
// the original's own load, torch.load of the whole file. Each side runs in a fresh process, so its peak
// RSS is its own. Needs python3 with torch to write the file; without it the rows are skipped.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { torchInline } from './torch.js';
import type { BenchRow } from './types.js';

// A ViT-B/16 at 16x224² (1568 tokens) twice, with AdamW moments for the online one, as torch.save writes it.
const WRITE = `
import collections, json, sys, torch
torch.manual_seed(0)
D, depth, N = 768, 12, 1568
def vit():
    sd = collections.OrderedDict()
    sd['pos_embed'] = torch.randn(1, N, D)
    sd['patch_embed.proj.weight'] = torch.randn(D, 3, 2, 16, 16)
    sd['patch_embed.proj.bias'] = torch.randn(D)
    for i in range(depth):
        for n, s in [('norm1.weight', (D,)), ('norm1.bias', (D,)), ('attn.qkv.weight', (3 * D, D)), ('attn.qkv.bias', (3 * D,)),
                     ('attn.proj.weight', (D, D)), ('attn.proj.bias', (D,)), ('norm2.weight', (D,)), ('norm2.bias', (D,)),
                     ('mlp.fc1.weight', (4 * D, D)), ('mlp.fc1.bias', (4 * D,)), ('mlp.fc2.weight', (D, 4 * D)), ('mlp.fc2.bias', (D,))]:
            sd[f'blocks.{i}.{n}'] = torch.randn(*s)
    sd['norm.weight'] = torch.randn(D)
    sd['norm.bias'] = torch.randn(D)
    return collections.OrderedDict(('module.backbone.' + k, v) for k, v in sd.items())
enc, tgt = vit(), vit()
params = list(enc.values())
opt = {'state': {i: {'step': torch.tensor(10.0), 'exp_avg': torch.randn_like(p), 'exp_avg_sq': torch.rand_like(p)} for i, p in enumerate(params)},
       'param_groups': [{'params': list(range(len(params)))}]}
torch.save({'encoder': enc, 'predictor': {}, 'target_encoder': tgt, 'opt': opt, 'epoch': 5}, sys.argv[1])
import os
print(json.dumps({'bytes': os.path.getsize(sys.argv[1])}))
`;

const TORCH_LOAD = `
import json, resource, sys, time, torch
t0 = time.perf_counter()
ckpt = torch.load(sys.argv[1], map_location='cpu', weights_only=True)
sd = ckpt['target_encoder']
s = time.perf_counter() - t0
print(json.dumps({'seconds': s, 'maxrss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'tensors': len(sd)}))
`;

function ours(file: string): { seconds: number; maxrssMiB: number; tensors: number } {
  const script = fileURLToPath(new URL('./checkpoint_read_worker.js', import.meta.url));
  const out = execFileSync(process.execPath, [script, file], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

export function benchCheckpointRead(): BenchRow[] {
  const dir = mkdtempSync(join(tmpdir(), 'vjepa-bench-ckpt-'));
  try {
    const file = join(dir, 'vitb16_training.pth.tar');
    const made = torchInline(WRITE, [file], 300_000);
    if (!made.bytes) {
      process.stderr.write('bench: checkpoint read skipped (python3 with torch is needed to write the file)\n');
      return [];
    }
    const ref = torchInline(TORCH_LOAD, [file], 300_000);
    const me = ours(file);
    if (ref.tensors !== undefined && ref.tensors !== me.tensors) throw new Error(`checkpoint read: ${me.tensors} tensors, torch read ${ref.tensors}`);
    const what = `target encoder of a ViT-B/16 training checkpoint (${(made.bytes / 2 ** 30).toFixed(2)} GiB: 2 encoders + AdamW)`;
    const referenceName = "torch.load of the whole file (the original's eval)";
    return [
      { group: 'checkpoint', name: `read the ${what}`, unit: 's', ours: me.seconds, reference: ref.seconds ?? null, referenceName, higherIsBetter: false },
      { group: 'checkpoint', name: 'its peak RSS (process)', unit: 'MiB', ours: me.maxrssMiB, reference: ref.maxrss_mib ?? null, referenceName, higherIsBetter: false },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
