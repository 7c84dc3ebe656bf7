// The command-line tools on CUDA, run as a user runs them (issue 7), each against the same
// command on the CPU: vjepa-train's default config for a few iterations (the loader, masks,
// uploads, schedules and the checkpoint write all in the loop), then resumed from its checkpoint
// for two more, against one CPU run straight through: compared per iteration from the two CSV
// logs and then weight by weight in their checkpoints; the same run in bf16;
// vjepa-embed's features of the GPU's checkpoint on both devices; vjepa-probe's default config
// (feature cache, head training, multi-view eval) on both. On a real GPU it then runs the ViT-L/16
// config through vjepa-train on synthetic 16x224² clips: the end-to-end clips/s with the
// loader's wait, next to step_bench.mjs's step alone.
//
// Run: node test/gpu/cli.mjs   (dist/ built; the addon as lib/native.ts finds it, VJEPA_ADDON
// overrides). ffmpeg: VJEPA_FFMPEG, else the npm package's, else .device/ffmpeg.xz (pack.sh puts
// it there for the device machine), else ffmpeg on PATH. VJEPA_CLI_ITERS (default 6) iterations
// per training run. The ViT-L run is on by default on a real GPU only; VJEPA_CLI_VITL=0/1 says
// otherwise, VJEPA_CLI_VITL_BATCH (32) and VJEPA_CLI_VITL_ITERS (14) size it.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checks } from './checks.mjs';
import { compiled } from './dist.mjs';

const { root, lib } = compiled(import.meta.url, 'bin/vjepa-train.js');
const { native } = await lib('native.js');
const { readSafetensors } = await lib('io/safetensors.js');
const { readNpy } = await lib('io/npy.js');

const info = native.cudaInfo();
// Without a usable GPU the same commands run on the CPU twice (no bf16 embedding, no ViT-L): a
// self-check that keeps the script runnable, as test/cli/gpu-script.test.ts does in npm test.
// VJEPA_GPU_DEVICE=cpu asks for that self-check anywhere.
const GPU = process.env.VJEPA_GPU_DEVICE ?? (info.available ? 'cuda:0' : 'cpu');
if (GPU === 'cpu') console.log(`self-check: the CPU on both sides${info.available ? '' : ` (CUDA unavailable: ${info.reason})`}`);
const ITERS = Number(process.env.VJEPA_CLI_ITERS ?? 6);
// fp32: as step.mjs (losses relative, weights absolute, AdamW moments relative to each tensor's
// max). The CSVs print 5 decimals, so every compared column also gets 1e-5 of print rounding.
const TOL = { loss: 1e-4, gradNorm: 1e-3, param: 1e-4, moment: 1e-2, features: 1e-4, probeLoss: 1e-3 };
// bf16 on the GPU against fp32 on the CPU: the issue's bf16 bound.
const TOL_BF16 = { loss: 1e-2, features: 2e-2 };
const PRINTED = 1e-5;

function findFfmpeg() {
  if (process.env.VJEPA_FFMPEG) return process.env.VJEPA_FFMPEG;
  try {
    const p = createRequire(join(root, 'package.json'))('@ffmpeg-installer/ffmpeg').path;
    if (existsSync(p)) return p;
  } catch {
    // not installed here (the device machine carries .device/ffmpeg.xz instead)
  }
  const xz = join(root, '.device/ffmpeg.xz');
  if (existsSync(xz)) {
    const out = join(root, '.node/ffmpeg');
    if (!existsSync(out)) {
      mkdirSync(join(root, '.node'), { recursive: true });
      const r = spawnSync('sh', ['-c', `xz -dc "${xz}" > "${out}.part" && chmod +x "${out}.part" && mv "${out}.part" "${out}"`]);
      if (r.status !== 0) return null;
    }
    return out;
  }
  const r = spawnSync('sh', ['-c', 'command -v ffmpeg'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const ffmpeg = findFfmpeg();
if (!ffmpeg) {
  console.log('FAIL: no ffmpeg (VJEPA_FFMPEG, @ffmpeg-installer/ffmpeg, .device/ffmpeg.xz or PATH): the CLIs decode video with it');
  process.exit(1);
}
console.log(`ffmpeg ${ffmpeg}${info.emulated ? '; CUDA backend: the CPU emulator (logic only)' : ''}`);

const checks = new Checks();
const work = mkdtempSync(join(tmpdir(), 'vjepa-cli-'));
const data = join(work, 'data');
// The attention tuner's trial (bf16 runs) would take minutes on the emulator and tell nothing.
const env = { ...process.env, VJEPA_FFMPEG: ffmpeg, ...(info.emulated ? { VJEPA_CUDA_ATTN_TUNE: '0' } : {}) };

/** Runs dist/bin/NAME.js: its stdout + stderr, or (a failed check, its output's tail printed) null. */
function cli(name, args, label, timeoutS = 600) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(root, 'dist/bin', `${name}.js`), ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: timeoutS * 1000,
    maxBuffer: 64 << 20,
  });
  const s = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.log(`${label}: ${name} exited ${r.status ?? r.signal} after ${s} s\n${(r.stdout + r.stderr).split('\n').slice(-15).join('\n')}`);
    checks.row(`${label}: exit status`, Infinity, 0);
    return null;
  }
  console.log(`${label}: ${s} s`);
  return r.stdout + r.stderr;
}

function readCsv(path) {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

/** Column col of two CSV logs, row by row: max |a - b| / (|b| + PRINTED / tol), which is <= tol
 *  exactly when every |a - b| <= tol |b| + PRINTED. */
function csvDiff(a, b, col, tol) {
  if (a.length !== b.length || a.length === 0) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Number(a[i][col]), y = Number(b[i][col]);
    m = Math.max(m, Math.abs(x - y) / (Math.abs(y) + PRINTED / tol));
  }
  return m;
}

function csvRow(name, a, b, col, tol) {
  checks.row(name, csvDiff(a, b, col, tol), tol);
}

function maxAbs(a) {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// ---- vjepa-train, default config: CPU fp32 straight through; GPU fp32 stopped after ITERS and
// resumed from its checkpoint for RESUMED more (the CSV log continues); GPU bf16 ------------------
const RESUMED = 2;
const trainArgs = (folder, device, iters, dtype = 'float32') => [
  'configs/pretrain.yaml',
  '--max-iterations', String(iters),
  '--set', `logging.folder=${folder}`,
  '--set', `data.synthetic.dir=${data}`,
  '--set', `data.datasets=[${join(data, 'train.csv')}]`,
  '--set', 'data.synthetic.videos=16',
  '--set', `meta.device=${device}`,
  '--set', `meta.dtype=${dtype}`,
];
const run = { cpu: join(work, 'cpu'), gpu: join(work, 'gpu'), bf16: join(work, 'bf16') };
const ran = (out) => out !== null;
const okCpu = ran(cli('vjepa-train', trainArgs(run.cpu, 'cpu', ITERS + RESUMED), 'vjepa-train cpu fp32'));
const okGpu =
  okCpu &&
  ran(cli('vjepa-train', trainArgs(run.gpu, GPU, ITERS), `vjepa-train ${GPU} fp32`)) &&
  ran(cli('vjepa-train', [...trainArgs(run.gpu, GPU, RESUMED), '--set', 'meta.load_checkpoint=true'], `vjepa-train ${GPU} fp32, resumed`));
if (okGpu) {
  const a = readCsv(join(run.gpu, 'jepa_r0.csv')), b = readCsv(join(run.cpu, 'jepa_r0.csv'));
  checks.info('iterations compared', `${a.length}/${b.length}`);
  csvRow(`train fp32: loss per iteration, ${GPU} vs cpu (rel)`, a, b, 'loss', TOL.loss);
  csvRow('train fp32: target std per iteration (rel)', a, b, 'target-std', TOL.loss);
  for (const col of ['enc-grad-norm', 'pred-grad-norm'])
    csvRow(`train fp32: ${col} per iteration (rel)`, a, b, col, TOL.gradNorm);
  // Every tensor of the two checkpoints: encoders, predictor, AdamW state.
  const ga = readSafetensors(join(run.gpu, 'jepa-latest.safetensors')).tensors;
  const cb = readSafetensors(join(run.cpu, 'jepa-latest.safetensors')).tensors;
  let param = 0, moment = 0, missing = 0, names = 0;
  for (const [name, t] of cb) {
    const u = ga.get(name);
    if (!u || u.shape.join() !== t.shape.join() || u.dtype !== t.dtype) {
      missing++;
      continue;
    }
    names++;
    if (t.dtype !== 'float32') {
      if (t.data.some((v, i) => v !== u.data[i])) missing++;
      continue;
    }
    const d = maxAbsDiff(t.data, u.data);
    if (/exp_avg/.test(name)) moment = Math.max(moment, d / (maxAbs(t.data) || 1));
    else param = Math.max(param, d);
  }
  checks.info('checkpoint tensors compared', String(names));
  checks.row('checkpoint: tensors missing, reshaped or (integers) different', missing, 0);
  checks.row('checkpoint: weights (max abs)', param, TOL.param);
  checks.row('checkpoint: AdamW moments (rel. to each max)', moment, TOL.moment);
}
const okBf16 = okCpu && ran(cli('vjepa-train', trainArgs(run.bf16, GPU, ITERS, 'bfloat16'), `vjepa-train ${GPU} bf16`));
if (okBf16) {
  const a = readCsv(join(run.bf16, 'jepa_r0.csv')), b = readCsv(join(run.cpu, 'jepa_r0.csv')).slice(0, ITERS);
  csvRow(`train bf16: loss per iteration, ${GPU} bf16 vs cpu fp32 (rel)`, a, b, 'loss', TOL_BF16.loss);
}

// ---- vjepa-embed: the GPU run's checkpoint, two validation videos (two clips each, the first
// block's and the last block's outputs), on both devices ---------------------------------------
if (okGpu) {
  const videos = readFileSync(join(data, 'val.csv'), 'utf8').trim().split('\n').slice(0, 2).map((l) => l.split(' ')[0]);
  // side names the output apart from the device, which is the CPU on both sides in the self-check
  const embed = (side, device, dtype) => {
    const out = join(work, `embed-${side}.npy`);
    const args = ['--checkpoint', join(run.gpu, 'jepa-latest.safetensors'), '--config', 'configs/pretrain.yaml', '--out', out,
      '--device', device, '--dtype', dtype, '--video', ...videos, '--clips', '2', '--layers', '0,-1'];
    return ran(cli('vjepa-embed', args, `vjepa-embed ${device} ${dtype}`)) ? readNpy(out) : null;
  };
  const c = embed('cpu', 'cpu', 'float32'), g = embed('gpu', GPU, 'float32'), h = GPU === 'cpu' ? null : embed('bf16', GPU, 'bfloat16');
  if (c && g) {
    checks.info('embed: features', `[${c.shape.join(', ')}]`);
    checks.row(`embed fp32: ${GPU} vs cpu (max abs / max)`, c.shape.join() === g.shape.join() ? maxAbsDiff(c.data, g.data) / maxAbs(c.data) : Infinity, TOL.features);
  }
  if (c && h) {
    let num = 0, den = 0;
    for (let i = 0; i < c.data.length; i++) (num += (c.data[i] - h.data[i]) ** 2), (den += c.data[i] ** 2);
    checks.row(`embed bf16: ${GPU} vs cpu fp32 (rel. Frobenius)`, Math.sqrt(num / den), TOL_BF16.features);
  }

  // ---- vjepa-probe, default config, 2 epochs: each device in its own folder (the probe writes
  // under pretrain.folder) from the same checkpoint ---------------------------------------------
  const probe = (side, device) => {
    const folder = join(work, `probe-${side}`);
    mkdirSync(folder, { recursive: true });
    copyFileSync(join(run.gpu, 'jepa-latest.safetensors'), join(folder, 'jepa-latest.safetensors'));
    const args = ['configs/ssv2.yaml', '--max-epochs', '2', '--set', `pretrain.folder=${folder}`, '--set', `meta.device=${device}`,
      '--set', `data.dataset_train=${join(data, 'train.csv')}`, '--set', `data.dataset_val=${join(data, 'val.csv')}`,
      '--set', `data.synthetic.dir=${data}`, '--set', 'data.synthetic.videos=16'];
    return ran(cli('vjepa-probe', args, `vjepa-probe ${device}`))
      ? readCsv(join(folder, 'video_classification_frozen/ssv2-8x2x3/jepa_r0.csv'))
      : null;
  };
  const pc = probe('cpu', 'cpu'), pg = probe('gpu', GPU);
  if (pc && pg) {
    for (const col of ['train_loss', 'val_loss'])
      csvRow(`probe: ${col} per epoch, ${GPU} vs cpu (rel)`, pg, pc, col, TOL.probeLoss);
  }
}

// ---- ViT-L/16 through vjepa-train: end to end, loader included ------------------------------
const vitl = process.env.VJEPA_CLI_VITL ?? (GPU !== 'cpu' && !info.emulated ? '1' : '0');
if (vitl === '1') {
  const B = Number(process.env.VJEPA_CLI_VITL_BATCH ?? 32), iters = Number(process.env.VJEPA_CLI_VITL_ITERS ?? 14);
  const skip = Math.min(4, iters - 1);  // the first iterations include the tuner's trial and warm-up
  const vdata = join(work, 'vitl-data');
  // 64 frames per clip at frame step 4 (vitl16.yaml): 68-frame videos, 256² so the crops are
  // resized down as from real footage.
  if (ran(cli('vjepa-data', ['synth', '--out', vdata, '--videos', String(2 * B), '--frames', '68', '--size', '256x256', '--scene', 'pan'], 'synthetic 16x224² data'))) {
    const folder = join(work, 'vitl');
    const workers = Math.max(1, availableParallelism() - 2);
    const out = cli('vjepa-train', ['configs/vitl16.yaml', '--max-iterations', String(iters), '--set', `logging.folder=${folder}`,
      '--set', `data.datasets=[${join(vdata, 'train.csv')}]`, '--set', `data.batch_size=${B}`, '--set', `data.num_workers=${workers}`,
      '--set', `meta.device=${GPU}`], `vjepa-train configs/vitl16.yaml, batch ${B}, ${workers} workers`, 480);
    if (ran(out)) {
      // what decides the end-to-end rate besides the step: the kernels the tuner took, a batch
      // transport that fell back to the IPC channel (a small /dev/shm), loader warnings
      for (const l of out.split('\n')) if (/^(attention kernels|data:|warning)/.test(l)) console.log(`  ${l}`);
      const rows = readCsv(join(folder, 'jepa_r0.csv')).slice(skip);
      const med = (col) => {
        const v = rows.map((r) => Number(r[col])).sort((x, y) => x - y);
        return v[v.length >> 1];
      };
      const wall = med('wall-time(ms)');
      checks.row('ViT-L: losses finite', rows.every((r) => Number.isFinite(Number(r.loss))) ? 0 : 1, 0);
      checks.info(`ViT-L end to end: median ms/iteration (iterations ${skip}-${iters - 1})`, wall.toFixed(1));
      checks.info('ViT-L end to end: clips/s', (B / (wall / 1000)).toPrecision(3));
      checks.info('ViT-L end to end: median wait for data (ms)', med('data-wait(ms)').toFixed(1));
      checks.info('ViT-L end to end: median GPU time (ms)', med('gpu-time(ms)').toFixed(1));
    }
  }
}

checks.print();
console.log(`\n${checks.gated - checks.failures}/${checks.gated} checks passed`);
if (!process.env.VJEPA_CLI_KEEP) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
process.exitCode = checks.failures ? 1 : 0;
