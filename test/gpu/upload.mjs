// Asynchronous uploads (native.uploadAsync, native/cuda/memory.cu) against synchronous writes.
// 1. Bytes: every dtype and a range of sizes (0 .. 10M elements) read back identical to the source
//    and to a synchronous write.
// 2. Races: K batches uploaded back to back into R rotating buffers (R = 1 is the harshest: the
//    next upload targets the buffer the queued kernels still read), each followed, without any
//    host sync, by slow kernels that read it and by a device copy of it into a history slot.
//    The history must equal the host batches bit for bit and the accumulated kernel results
//    must equal those of the same loop with synchronous writes. Variants: fresh tensors freed
//    right after their kernels are queued (the caching allocator hands the block to the next
//    upload), and uploads freed unused (the block goes to a kernel that fills it).
// 3. The same under VJEPA_PINNED_MB=40 (uploads wait for busy staging buffers) and
//    VJEPA_PINNED_MB=0 (every upload falls back to a synchronous copy), in child processes.
// Run: node test/gpu/upload.mjs   (VJEPA_ADDON overrides build/Release/vjepa.node)
// Without a usable GPU it runs the loops on the CPU (so the harness is exercised) and exits 0.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(here), '../..');
const A = require(process.env.VJEPA_ADDON ?? path.join(root, 'build/Release/vjepa.node'));
const info = A.cudaInfo();
if (info.emulated) console.log('CUDA backend: the CPU emulator (test/native/cuda_emu): logic only, not speed or hardware rounding');
const child = process.argv.includes('--child');
const DEV = info.available ? process.env.VJEPA_GPU_DEVICE ?? 'cuda:0' : 'cpu';
if (!info.available && !child) console.log(`CUDA unavailable: ${info.reason} (running the loops on the CPU)`);
const tag = child ? `[VJEPA_PINNED_MB=${process.env.VJEPA_PINNED_MB}] ` : '';

let failures = 0;
const rows = [];
function row(name, ok, detail = '') {
  if (!ok) failures++;
  rows.push([tag + name, ok ? 'pass' : 'FAIL', detail]);
}

// Deterministic awkward bits (NaN payloads, subnormals, -0 all occur).
function hashBytes(nbytes, salt) {
  const u = new Uint32Array(Math.ceil(nbytes / 4));
  let x = (salt * 0x9e3779b9) >>> 0;
  for (let i = 0; i < u.length; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    u[i] = x;
  }
  return new Uint8Array(u.buffer, 0, nbytes);
}
// Finite floats in [-1, 1) for the batches that feed kernels.
function batch(n, k) {
  const a = new Float32Array(n);
  let x = (k + 1) * 0x2545f491;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) | 0;
    a[i] = (x >>> 8) / 8388608 - 1;
  }
  return a;
}
const same = (a, b) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const numel = (s) => s.reduce((x, y) => x * y, 1);
function readF32(h) {
  const a = new Float32Array(numel(h.shape));
  h.read(a);
  return a;
}

// ---------------------------------------------------------------- 1. bytes
if (!child) {
  const kinds = [
    ['float32', Float32Array, 4],
    ['int32', Int32Array, 4],
    ['float64', Float64Array, 8],
    ['uint8', Uint8Array, 1],
    ['int64', BigInt64Array, 8],
    ['bfloat16', Uint16Array, 2],
  ];
  let bad = 0, cases = 0;
  for (const [dtype, Ctor, size] of kinds)
    for (const n of [0, 1, 3, 1000, 16383, 16385, 65537, 1 << 20, (10 << 20) + 7]) {
      const bytes = hashBytes(n * size, n + size);
      const src = new Ctor(bytes.buffer, 0, n);
      const a = A.empty([n], dtype, DEV);
      const s = A.empty([n], dtype, DEV);
      A.uploadAsync(src, a);
      s.write(src);
      const ra = new Ctor(n), rs = new Ctor(n);
      a.read(ra);
      s.read(rs);
      cases++;
      if (!same(ra, src) || !same(rs, src)) bad++;
      a.dispose();
      s.dispose();
    }
  row(`bytes: ${cases} uploads (6 dtypes, 0 .. 10M elements) equal the source and a sync write`, bad === 0, `${bad} differ`);
}

// ---------------------------------------------------------------- 2. races
const GPU = DEV !== 'cpu';
// a batch is SIDE x SIDE floats (16 MB on a GPU; small on the CPU and under the CPU emulator)
const SIDE = GPU && !info.emulated ? 2048 : 64;
const K = GPU ? 12 : 4;
const SLOW = GPU ? 8 : 1; // GEMMs per step that read the batch
const N = SIDE * SIDE;
const batches = Array.from({ length: K }, (_, k) => batch(N, k));
const W = A.empty([SIDE, SIDE], 'float32', DEV);
W.write(batch(N, 1000).map((v) => v / SIDE));

let slowOp = (x, out) => A.gemm(x, W, out, false, false, 1, 0, null);
try {
  const [x, y] = [A.zeros([SIDE, SIDE], 'float32', DEV), A.zeros([SIDE, SIDE], 'float32', DEV)];
  try {
    slowOp(x, y);
  } finally {
    x.dispose();
    y.dispose();
  }
} catch (e) {
  console.log(`gemm unavailable (${e.message.split('\n')[0]}); softmax stands in as the slow reader`);
  slowOp = (x, out) => A.softmax(x, out);
}

// One loop: mode 'rotate' (R buffers), 'fresh' (a new tensor per batch, freed once queued) or
// 'unused' (a tensor uploaded and freed unused; the next allocation is filled by a kernel).
function loop(mode, R, async) {
  const hist = A.zeros([K, N], 'float32', DEV);
  const acc = A.zeros([SIDE, SIDE], 'float32', DEV);
  const tmp = A.empty([SIDE, SIDE], 'float32', DEV);
  const bufs = mode === 'rotate' ? Array.from({ length: R }, () => A.empty([SIDE, SIDE], 'float32', DEV)) : [];
  const put = (src, dst) => (async ? A.uploadAsync(src, dst) : dst.write(src));
  const t0 = performance.now();
  for (let k = 0; k < K; k++) {
    const slot = A.narrow(hist, k, 1);
    let x;
    if (mode === 'unused') {
      const u = A.empty([SIDE, SIDE], 'float32', DEV);
      put(batches[k], u);
      u.dispose(); // its block goes back to the cache with the copy maybe still in flight
      x = A.empty([SIDE, SIDE], 'float32', DEV);
      A.fill(x, k + 0.5);
    } else {
      x = mode === 'rotate' ? bufs[k % R] : A.empty([SIDE, SIDE], 'float32', DEV);
      put(batches[k], x);
    }
    for (let s = 0; s < SLOW; s++) {
      slowOp(x, tmp);
      A.axpby(tmp, acc, acc, 1 / SLOW, 1);
    }
    A.copy(x, slot);
    slot.dispose();
    if (mode !== 'rotate') x.dispose(); // the next batch's allocation may get this block
  }
  const h = readF32(hist); // the first host sync
  const ms = performance.now() - t0;
  const out = readF32(acc);
  let wrong = 0;
  for (let k = 0; k < K; k++) {
    const got = h.subarray(k * N, (k + 1) * N);
    const ok = mode === 'unused' ? got.every((v) => v === k + 0.5) : same(got, batches[k]);
    if (!ok) wrong++;
  }
  for (const b of bufs) b.dispose();
  hist.dispose();
  acc.dispose();
  tmp.dispose();
  return { wrong, out, ms };
}

const variants = [['rotate', 1], ['rotate', 2], ['rotate', 3], ['fresh', 0], ['unused', 0]];
for (const [mode, R] of variants) {
  const name = mode === 'rotate' ? `rotate R=${R}` : mode;
  loop(mode, R, true); // warm-up: staging buffers, allocator blocks, cuBLAS
  const s = loop(mode, R, false);
  const a = loop(mode, R, true);
  row(`${name}: ${K} async batches reach the kernels intact`, a.wrong === 0, `${a.wrong}/${K} history slots wrong`);
  row(`${name}: kernel results equal the sync path bit for bit`, same(a.out, s.out) && s.wrong === 0,
    `sync ${s.ms.toFixed(1)} ms, async ${a.ms.toFixed(1)} ms`);
}

if (GPU) {
  const st = A.uploadStats(DEV);
  row('no upload left unjoined after the loops (pendingUploads)', st.pendingUploads === 0, JSON.stringify(st));
  const cap = process.env.VJEPA_PINNED_MB ?? '1024';
  row(`pinned staging within VJEPA_PINNED_MB=${cap}`, st.pinnedBytes <= Number(cap) * 2 ** 20, `${(st.pinnedBytes / 2 ** 20).toFixed(1)} MiB in ${st.pinnedBuffers} buffers`);
  if (cap === '0') row('every upload fell back to a synchronous copy', st.asyncCopies === 0 && st.syncCopies > 0, JSON.stringify(st));
  else row('uploads went through pinned staging buffers', st.asyncCopies > 0 && st.syncCopies === 0, JSON.stringify(st));
}
W.dispose();
const live = A.stats().liveTensors;
row('no live tensors left', live === 0, `${live}`);

// ---------------------------------------------------------------- 3. caps, in child processes
if (!child && GPU) {
  for (const mb of ['40', '0']) {
    const r = spawnSync(process.execPath, [here, '--child'], { env: { ...process.env, VJEPA_PINNED_MB: mb }, encoding: 'utf8' });
    process.stdout.write(r.stdout);
    if (r.stderr) process.stderr.write(r.stderr);
    row(`child with VJEPA_PINNED_MB=${mb}`, r.status === 0, `exit ${r.status}`);
  }
}

const w0 = Math.max(...rows.map((r) => r[0].length));
for (const [n, r, d] of rows) console.log(`${n.padEnd(w0)}  ${r}  ${d}`);
process.exit(failures ? 1 : 0);
