// The build: the CUDA sources are compiled into the addon whenever nvcc exists (issue 7:
// CI shows a .nv_fatbin section), and the addon still loads and explains itself without a GPU.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { native } from '../../lib/native.js';
import { ROOT } from '../train/helpers.js';

/** Section names of a 64-bit little-endian ELF file. */
function elfSections(path: string): string[] {
  const b = readFileSync(path);
  assert.is(b.toString('latin1', 1, 4), 'ELF');
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const shstrndx = b.readUInt16LE(0x3e);
  const strOff = Number(b.readBigUInt64LE(shoff + shstrndx * shentsize + 0x18));
  const names: string[] = [];
  for (let i = 0; i < shnum; i++) {
    const nameOff = b.readUInt32LE(shoff + i * shentsize);
    let end = strOff + nameOff;
    while (b[end] !== 0) end++;
    names.push(b.toString('latin1', strOff + nameOff, end));
  }
  return names;
}

const hasNvcc = spawnSync('nvcc', ['--version']).status === 0;

test('CUDA code is in the addon when nvcc is available', () => {
  const info = native.cudaInfo();
  if (!hasNvcc) {
    assert.is(info.compiled, false);
    return;
  }
  assert.is(info.compiled, true);
  if (process.platform === 'linux') assert.ok(elfSections(join(ROOT, 'build/Release/vjepa.node')).includes('.nv_fatbin'), 'no .nv_fatbin section');
});

// ptxas's register report for the tensor-core attention kernels: a spill at head_dim 64 (ViT-L,
// ViT-B) puts local-memory traffic inside the loops that decide the attention bench, and 96 is
// ViT-H's and ViT-g's. Each kernel gets no spill, except one measured exception held to its size:
// the one-pass backward at 64 (8 bytes; it is not the default schedule, and every rearrangement
// tried moved the spill rather than removing it).
const SPILL_BUDGET: Record<string, number> = { 'tc_bwd_fused_kernel<64>': 8 };

interface PtxasKernel {
  spill: number;
  regs: number;
  /** ptxas's C751x notes for the kernel: "wgmma.mma_async instructions are serialized due to ...", or a
   * "warpgroup.wait is injected ..." where it could not see a wait before an accumulator is read */
  serialized: string[];
}

/** nvcc -Xptxas -v on one file for one target: spill bytes, registers and wgmma notes per entry function. */
function ptxasReport(file: string, gencode: string): Map<string, PtxasKernel> {
  const out = join(mkdtempSync(join(tmpdir(), 'vjepa-ptxas-')), 'kernels.o');
  const r = spawnSync('nvcc', ['-O3', '-std=c++17', gencode, '-Xptxas', '-v', '-I', join(ROOT, 'native'), '-c', join(ROOT, file), '-o', out], { encoding: 'utf8', timeout: 5 * 60_000 });
  assert.is(r.status, 0, r.stderr);
  // The serialization notes come first, naming their function; then per function "Compiling entry
  // function '<mangled>' for 'sm_90'", a line with the spills, and one with the registers.
  const notes = new Map<string, string[]>();
  const note = /\((C75\d\d)\) (?:Potential Performance Loss: wgmma\.mma_async instructions are serialized due to (.*?)|(warpgroup\.wait is injected .*?)) (?:in|for) (?:the )?function '(\w+)'/g;
  for (const m of r.stderr.matchAll(note))
    notes.set(m[4], [...(notes.get(m[4]) ?? []), `${m[1]}: ${(m[2] ?? m[3]).replace(/\s+/g, ' ')}`]);
  const kernels = new Map<string, PtxasKernel>();
  let name: string | null = null;
  for (const line of r.stderr.split('\n')) {
    const c = /Compiling entry function '(\w+)'/.exec(line);
    if (c) name = c[1];
    const sp = /(\d+) bytes spill stores/.exec(line);
    if (name && sp) kernels.set(name, { spill: Number(sp[1]), regs: 0, serialized: notes.get(name) ?? [] });
    const rg = /Used (\d+) registers/.exec(line);
    if (name && rg && kernels.has(name)) kernels.get(name)!.regs = Number(rg[1]);
  }
  return kernels;
}

test('tensor-core attention kernels fit in registers for sm_90 at head_dim 24, 32, 64, 80 and 96 (ptxas: no spills beyond the budget)', () => {
  if (!hasNvcc) return;
  const kernels = ptxasReport('native/cuda/attention_tc.cu', '--generate-code=arch=compute_90,code=sm_90');
  const checked: string[] = [];
  for (const [k, v] of kernels) {
    const m = /(tc_fwd_kernel|tc_bwd_dq_kernel|tc_bwd_dkv_kernel|tc_bwd_fused_kernel)ILi(\d+)E/.exec(k);
    if (!m || Number(m[2]) > 96) continue;
    const kernel = `${m[1]}<${m[2]}>`;
    checked.push(kernel);
    assert.ok(v.spill <= (SPILL_BUDGET[kernel] ?? 0), `${kernel} spills ${v.spill} bytes (${v.regs} registers)`);
    assert.ok(v.regs > 0 && v.regs <= 255, `${kernel}: ${v.regs} registers`);
  }
  assert.is(checked.length, 20, `kernels found: ${checked.join(', ')}`);
});

// The wgmma kernels exist only as sm_90a code (CMakeLists.txt). The forward's registers are what
// its __launch_bounds__ leave (WgGeo: two blocks of 256 threads, 128 registers; at head_dim 64 one
// block of 384, 168, or two of 256 with the Narrow tiles). The backward holds dK, dV and a query tile's dQ in registers (one block, up to 255; two of 128 at 24),
// at head_dim <= 96 across the next tile's score products too (WgBwdGeo::overlap: at 128 that
// spilled 132 bytes). Neither may spill, nor make ptxas serialize its wgmma products, which it does
// silently (an "info" line) when the registers run short (C7512), when it cannot prove an
// accumulator landed before it is read (C7514), or when a product sits on a path it thinks
// divergent (C7518: the backward's dQ turns, unless the warpgroup index comes by a shuffle): the
// products then wait for each other, which is what the kernels are built to avoid. Nor may it
// inject a wait of its own (C7517), which stalls where the schedule meant products to run on.
// And the PTX must hold the products: were the sm_90a feature macro missing, the kernels would
// compile empty and the runtime probe would refuse them.
test('wgmma attention kernels compile for sm_90a within their register budgets, unserialized, with their wgmma products', () => {
  if (!hasNvcc) return;
  const kernels = ptxasReport('native/cuda/attention_wgmma.cu', '--generate-code=arch=compute_90a,code=sm_90a');
  const found: string[] = [];
  for (const [k, v] of kernels) {
    // the forward's second argument: Narrow (its 64-key tiles at head_dim 64), false or true
    const m = /(wg_fwd_kernel|wg_bwd_kernel)ILi(\d+)E(?:Lb([01])E)?/.exec(k);
    if (!m) continue;
    const narrow = m[3] === '1';
    const kernel = `${m[1]}<${m[2]}${narrow ? ', narrow' : ''}>`;
    found.push(kernel);
    assert.is(v.spill, 0, `${kernel} spills ${v.spill} bytes (${v.regs} registers)`);
    // the backward at 24 runs two blocks an SM (wg_bwd_blocks), so 128 like the two-block forwards
    const budget = m[1] === 'wg_bwd_kernel' ? (m[2] === '24' ? 128 : 255) : m[2] === '64' && !narrow ? 168 : 128;
    assert.ok(v.regs > 0 && v.regs <= budget, `${kernel}: ${v.regs} registers, over ${budget}`);
    assert.equal(v.serialized, [], `${kernel}: ptxas serialized its wgmma products or injected a wait`);
  }
  assert.is(found.length, 13, `kernels found: ${found.join(', ')}`);
  for (const k of ['wg_fwd_kernel<64, narrow>', 'wg_fwd_kernel<24>', 'wg_bwd_kernel<24>', 'wg_fwd_kernel<80>', 'wg_bwd_kernel<80>']) assert.ok(found.includes(k), `kernels found: ${found.join(', ')}`);
  const ptx = join(mkdtempSync(join(tmpdir(), 'vjepa-ptx-')), 'wgmma.ptx');
  const r = spawnSync('nvcc', ['-O3', '-std=c++17', '-arch=compute_90a', '-ptx', '-I', join(ROOT, 'native'), join(ROOT, 'native/cuda/attention_wgmma.cu'), '-o', ptx], { encoding: 'utf8', timeout: 5 * 60_000 });
  assert.is(r.status, 0, r.stderr);
  const text = readFileSync(ptx, 'utf8');
  // products N wide: scores over 128 keys (forward, head_dim <= 64) or 64; P V, dV, dK and dQ at each head width
  for (const n of [24, 32, 64, 80, 96, 128]) assert.ok(text.includes(`wgmma.mma_async.sync.aligned.m64n${n}k16.f32.bf16.bf16`), `no m64n${n}k16 product in the PTX`);
});

test('without a GPU the addon loads, and asking for CUDA says why', () => {
  const info = native.cudaInfo();
  if (info.available) return;
  assert.ok(info.reason.length > 10, info.reason);
  assert.throws(() => native.empty([2], 'float32', 'cuda'), (e: Error) => e.message.includes(info.reason.slice(0, 20)) || /CUDA/.test(e.message));
  assert.throws(() => native.empty([2], 'float32', 'tpu'), /bad device 'tpu'/);
  assert.throws(() => native.wgmmaSelfTest(), (e: Error) => e.message.startsWith('wgmmaSelfTest: ') && e.message.includes(info.reason.slice(0, 20)));
});

test('the CPU instruction set is chosen at run time and can be forced', () => {
  const { best } = native.isa();
  assert.ok(['portable', 'avx2', 'avx512', 'avx512bf16'].includes(best));
  assert.is(native.setIsa('portable'), 'portable');
  assert.is(native.setIsa('auto'), best);
  assert.throws(() => native.setIsa('sse9' as 'auto'), /unknown instruction set 'sse9'/);
});

test('an allocation that cannot be satisfied throws "out of memory" instead of aborting', () => {
  assert.throws(() => native.empty([1e12], 'float32'), /empty: out of memory/);
  assert.throws(() => native.empty([-1], 'float32'), /empty: shape\[0\] must be a non-negative integer/);
  // The process is still healthy afterwards.
  const t = native.zeros([3], 'float32');
  const out = new Float32Array(3);
  t.read(out);
  assert.equal(Array.from(out), [0, 0, 0]);
  t.dispose();
});

test.run();
