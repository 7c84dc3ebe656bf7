// The pretraining video transform (DATA-04 .. DATA-07, DATA-09) checked against the ORIGINAL code's own output,
// recorded by reference/original_transforms.py into test/fixtures/original/transforms.safetensors:
//   * geometry, exactly: with the crop box and the flip forced on both sides (the original's box sampler and
//     numpy draw replaced; here a scripted Rng fed to the real trainClipTransform, the function the batch
//     builder calls), the [3, T, S, S] output of a made-up uint8 clip must agree within 1e-5: crop, bilinear
//     resize (align_corners off, no antialias), flip, ImageNet normalisation on the 0..255 scale, channel
//     order and layout. Non-square 61x97 input, up/down/mixed scaling, 1-pixel boxes, every border, identity,
//     and two motion-shift (DATA-06) cases;
//   * the centred fallback box, exactly, for several frame shapes and aspect ranges;
//   * the crop-box distribution (DATA-05) for the shipped settings (configs/pretrain.yaml, configs/vitl16.yaml)
//     on several frame shapes, two that take the fallback often and one that falls back to the whole frame:
//     fallback rate, number of tries, joint area x aspect histogram, position histograms and means, each as a
//     two-sample z (or chi-square) test against the original's draws;
//   * flip frequency (DATA-07) and random erasing (DATA-09) in distribution.
// Our randomness is our own generator (README "Known deviations": Randomness), so draws are compared in
// distribution, never bitwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../../lib/io/safetensors.js';
import { Rng } from '../../lib/data/rng.js';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  NORM255,
  pretrainTransform,
  randomErase,
  sampleCropBox,
  trainClipTransform,
  type ClipFrames,
} from '../../lib/data/transforms.js';
import { clipFrames } from './helpers.js';

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
const file = readSafetensors(root('test/fixtures/original/transforms.safetensors'));
const meta = <T>(k: string): T => JSON.parse(file.metadata[k]) as T;
const f32 = (k: string): Float32Array => {
  const t = file.tensors.get(k);
  if (!t) throw new Error(`fixture has no ${k}`);
  return t.data as Float32Array;
};
const shape = (k: string): number[] => file.tensors.get(k)!.shape;
const VERBOSE = !!process.env.VJEPA_TEST_VERBOSE;

/** |z| above this fails a distribution check (two-sided p = 6.8e-6 each; 84 checks in all). */
const Z_LIMIT = 4.5;
/** Geometry: absolute tolerance on normalised values (|v| < 3). The original resizes in float32, source coordinates
 * included: on these cases its own result differs from the same torch ops in float64 by up to 1.02e-5, and ours
 * (float64 coordinates, float32 weights) comes within 9.8e-6 of it. A one-pixel or half-pixel error is ~1e-1. */
const GEOM_TOL = 2e-5;

// ------------------------------------------------------------------------------------------ helpers

/** The script's clip: value (37x + 101y + 53t + 89c + 5((7xy) mod 23)) mod 256. Frames are stored in reverse order
 * after one junk frame, and reached through frameOffsets, as the batch builder hands decoded videos over. */
function makeClip(T: number, H: number, W: number): ClipFrames {
  return clipFrames(T, H, W, (t, y, x, c) => (37 * x + 101 * y + 53 * t + 89 * c + 5 * ((7 * x * y) % 23)) % 256, 255);
}

type Box4 = [number, number, number, number]; // top, left, h, w

/** Rng whose draws are given: uniform() and randint() values in call order (each checked against the range asked
 * for), random() for the flip. Used to force the crop box and the flip through the real transform. */
class ScriptedRng extends Rng {
  readonly randintRanges: [number, number][] = [];
  constructor(private u: number[], private ri: number[], private r: number[]) {
    super(0);
  }
  override uniform(lo: number, hi: number): number {
    const v = this.u.shift();
    if (v === undefined) throw new Error('scripted rng: unexpected uniform()');
    if (!(v >= Math.min(lo, hi) && v <= Math.max(lo, hi))) throw new Error(`scripted rng: ${v} outside [${lo}, ${hi}]`);
    return v;
  }
  override randint(lo: number, hi: number): number {
    const v = this.ri.shift();
    if (v === undefined) throw new Error('scripted rng: unexpected randint()');
    if (!(v >= lo && v <= hi)) throw new Error(`scripted rng: randint ${v} outside [${lo}, ${hi}]`);
    this.randintRanges.push([lo, hi]);
    return v;
  }
  override random(): number {
    const v = this.r.shift();
    if (v === undefined) throw new Error('scripted rng: unexpected random()');
    return v;
  }
  override normal(): number {
    throw new Error('scripted rng: unexpected normal()');
  }
  drained(): boolean {
    return this.u.length === 0 && this.ri.length === 0 && this.r.length === 0;
  }
}

/** Draws that make sampleCropBox (DATA-05) return `b` at its first try: area fraction h·w/(H·W), log aspect ln(w/h). */
function drawsFor(b: Box4, H: number, W: number): { u: number[]; ri: number[] } {
  const [top, left, h, w] = b;
  return { u: [(h * w) / (H * W), Math.log(w / h)], ri: [top, left] };
}

/** Rng that counts draws, so a box's tries and fallback are known (the original's side counts the same way). */
class CountingRng extends Rng {
  uniforms = 0;
  randints = 0;
  override uniform(lo: number, hi: number): number {
    this.uniforms++;
    return super.uniform(lo, hi);
  }
  override randint(lo: number, hi: number): number {
    this.randints++;
    return super.randint(lo, hi);
  }
}

const bisectRight = (edges: number[], v: number): number => {
  let i = 0;
  while (i < edges.length && edges[i] <= v) i++;
  return i;
};
const POS_EDGES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const relPos = (p: number, free: number) => (p + 0.5) / (free + 1);

interface Zs { what: string; z: number; detail: string }

/** Two-proportion z. */
function zProp(x1: number, n1: number, x2: number, n2: number): number {
  const p = (x1 + x2) / (n1 + n2);
  if (p === 0 || p === 1) return 0;
  return (x1 / n1 - x2 / n2) / Math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
}

/** Two-sample z of means from sums and sums of squares. */
function zMean(s1: number, q1: number, n1: number, s2: number, q2: number, n2: number): number {
  const m1 = s1 / n1;
  const m2 = s2 / n2;
  const v1 = Math.max(q1 / n1 - m1 * m1, 0) * (n1 / (n1 - 1));
  const v2 = Math.max(q2 / n2 - m2 * m2, 0) * (n2 / (n2 - 1));
  const se = Math.sqrt(v1 / n1 + v2 / n2);
  if (se === 0) return m1 === m2 ? 0 : Infinity;
  return (m1 - m2) / se;
}

/** Two-sample chi-square of homogeneity over matching bins (bins with < 20 counts in all are pooled), turned into
 * a one-sided z by Wilson-Hilferty. Returns [z, chi2, dof]. */
function zChi2(ours: number[], orig: number[]): [number, number, number] {
  if (ours.length !== orig.length) throw new Error(`bins ${ours.length} vs ${orig.length}`);
  const n1 = ours.reduce((a, b) => a + b, 0);
  const n2 = orig.reduce((a, b) => a + b, 0);
  const a: number[] = [];
  const b: number[] = [];
  let pa = 0;
  let pb = 0;
  for (let i = 0; i < ours.length; i++) {
    if (ours[i] + orig[i] < 20) {
      pa += ours[i];
      pb += orig[i];
    } else {
      a.push(ours[i]);
      b.push(orig[i]);
    }
  }
  if (pa + pb > 0) {
    a.push(pa);
    b.push(pb);
  }
  const k = a.length - 1;
  if (k < 1) return [0, 0, 0];
  const k1 = Math.sqrt(n2 / n1);
  const k2 = Math.sqrt(n1 / n2);
  let chi2 = 0;
  for (let i = 0; i < a.length; i++) if (a[i] + b[i] > 0) chi2 += (k1 * a[i] - k2 * b[i]) ** 2 / (a[i] + b[i]);
  const z = (Math.cbrt(chi2 / k) - (1 - 2 / (9 * k))) / Math.sqrt(2 / (9 * k));
  return [z, chi2, k];
}

function judge(name: string, zs: Zs[]): void {
  const worst = zs.reduce((m, x) => (Math.abs(x.z) > Math.abs(m.z) ? x : m), zs[0]);
  if (VERBOSE) console.log(`  ${name}: ${zs.length} checks, max |z| ${Math.abs(worst.z).toFixed(2)} (${worst.what})`);
  const bad = zs.filter((x) => !(Math.abs(x.z) <= Z_LIMIT));
  assert.ok(bad.length === 0, `${name}: ${bad.map((x) => `${x.what}: z = ${x.z.toFixed(2)} (${x.detail})`).join('; ')}`);
}

// ------------------------------------------------------------------------------------------ 1. geometry

interface GeomCase {
  name: string; H: number; W: number; T: number; S: number; boxes: Box4[]; flip: boolean; motion_shift: boolean;
  frame_boxes?: number[][]; exact_boxes?: number[][];
}
const GEOM = meta<GeomCase[]>('geometry');


function runOurs(c: GeomCase): Float32Array {
  const u: number[] = [];
  const ri: number[] = [];
  for (const b of c.boxes) {
    const d = drawsFor(b, c.H, c.W);
    u.push(...d.u);
    ri.push(...d.ri);
  }
  const rng = new ScriptedRng(u, ri, [c.flip ? 0.25 : 0.75]);
  const out = new Float32Array(3 * c.T * c.S * c.S).fill(NaN);
  // The shipped pretraining options, but with area/aspect ranges wide enough to admit every forced box.
  const opts = pretrainTransform({ scale: [1e-4, 1], ratio: [0.01, 100], motionShift: c.motion_shift });
  trainClipTransform(makeClip(c.T, c.H, c.W), c.S, opts, rng, out, 0);
  assert.ok(rng.drained(), `${c.name}: not every scripted draw was used`);
  // DATA-05: top ~ randint[0, H − h], left ~ randint[0, W − w], inclusive
  const want = c.boxes.flatMap(([, , h, w]) => [[0, c.H - h], [0, c.W - w]]);
  assert.equal(rng.randintRanges, want, `${c.name}: randint ranges`);
  return out;
}

/** Largest |ours − original| per frame. */
function frameDiffs(c: GeomCase, ours: Float32Array, orig: Float32Array): number[] {
  const plane = c.S * c.S;
  const d = new Array<number>(c.T).fill(0);
  for (let ch = 0; ch < 3; ch++)
    for (let t = 0; t < c.T; t++)
      for (let i = 0; i < plane; i++) {
        const k = (ch * c.T + t) * plane + i;
        const e = Math.abs(ours[k] - orig[k]);
        d[t] = Number.isNaN(e) ? Infinity : Math.max(d[t], e);
      }
  return d;
}

for (const c of GEOM.filter((g) => !g.motion_shift)) {
  test(`DATA-04/05/07 geometry ${c.name}: ${c.H}x${c.W} box [${c.boxes[0]}] -> ${c.S}, flip ${c.flip}: equals the original`, () => {
    assert.equal(shape(`geom.${c.name}`), [3, c.T, c.S, c.S], 'the original writes [C, T, S, S]');
    const orig = f32(`geom.${c.name}`);
    const d = frameDiffs(c, runOurs(c), orig);
    const worst = Math.max(...d);
    if (VERBOSE) console.log(`  ${c.name}: max |diff| ${worst.toExponential(2)}`);
    assert.ok(worst <= GEOM_TOL, `${c.name}: max |ours − original| = ${worst} per frame ${d}`);
  });
}

for (const c of GEOM.filter((g) => g.motion_shift)) {
  test(`DATA-06 motion shift ${c.name}: T=${c.T}, boxes [${c.boxes[0]}] -> [${c.boxes[1]}]: equals the original frame by frame`, () => {
    const d = frameDiffs(c, runOurs(c), f32(`geom.${c.name}`));
    const bad = d.map((e, t) => [t, e] as const).filter(([, e]) => !(e <= GEOM_TOL));
    if (VERBOSE) console.log(`  ${c.name}: per-frame max |diff| ${d.map((e) => e.toExponential(1)).join(' ')}; original boxes (top, left, h, w per frame) ${JSON.stringify(c.frame_boxes)}`);
    assert.equal(bad, [], `${c.name}: frames differing from the original: ${JSON.stringify(bad)}; original per-frame boxes ${JSON.stringify(c.frame_boxes)}`);
  });
}

test('DATA-04 normalisation constants: ImageNet mean/std x 255 (auto-augment off), unscaled with auto-augment', () => {
  const m = f32('norm.mean255');
  const s = f32('norm.std255');
  for (let c = 0; c < 3; c++) {
    assert.ok(Math.abs(NORM255.mean[c] - m[c]) < 1e-4, `mean[${c}] ${NORM255.mean[c]} vs ${m[c]}`);
    assert.ok(Math.abs(NORM255.std[c] - s[c]) < 1e-4, `std[${c}] ${NORM255.std[c]} vs ${s[c]}`);
    assert.ok(Math.abs(IMAGENET_MEAN[c] - f32('norm.mean_autoaug')[c]) < 1e-7);
    assert.ok(Math.abs(IMAGENET_STD[c] - f32('norm.std_autoaug')[c]) < 1e-7);
  }
});

// ------------------------------------------------------------------------------------------ 3. fallback

test('DATA-05 fallback: the centred box when no try fits equals the original for every shape and aspect range', () => {
  const rows = meta<{ H: number; W: number; ratio: [number, number]; box: Box4 }[]>('fallback');
  for (const r of rows) {
    const b = sampleCropBox(r.H, r.W, [5, 5], r.ratio, new Rng(1));
    assert.equal([b.top, b.left, b.height, b.width], r.box, `${r.H}x${r.W} ratio ${r.ratio}`);
  }
});

// ------------------------------------------------------------------------------------------ 4. box distribution

interface BoxStats {
  name: string; H: number; W: number; scale: [number, number]; ratio: [number, number];
  n: number; accepted: number; tries: number[]; joint: number[]; top_hist: number[]; left_hist: number[];
  sums: Record<'area' | 'area2' | 'logr' | 'logr2' | 'top' | 'top2' | 'left' | 'left2', number>;
  area_edges: number[]; aspect_edges: number[];
}
const BOXES = meta<BoxStats[]>('boxes');

function ourBoxStats(o: BoxStats, seed: number): BoxStats {
  const { H, W, scale, ratio, area_edges: ae, aspect_edges: re } = o;
  const rng = new CountingRng(seed);
  const st: BoxStats = {
    ...o, n: o.n, accepted: 0, tries: new Array(11).fill(0), joint: new Array((ae.length + 1) * (re.length + 1)).fill(0),
    top_hist: new Array(10).fill(0), left_hist: new Array(10).fill(0),
    sums: { area: 0, area2: 0, logr: 0, logr2: 0, top: 0, top2: 0, left: 0, left2: 0 },
  };
  for (let i = 0; i < o.n; i++) {
    const u0 = rng.uniforms;
    const r0 = rng.randints;
    const b = sampleCropBox(H, W, scale, ratio, rng);
    assert.ok(b.top >= 0 && b.left >= 0 && b.height > 0 && b.width > 0 && b.top + b.height <= H && b.left + b.width <= W, `${o.name}: box outside the frame`);
    const fb = rng.randints === r0;
    const tries = (rng.uniforms - u0) / 2;
    st.tries[fb ? 10 : tries - 1]++;
    const a = (b.height * b.width) / (H * W);
    const r = b.width / b.height;
    st.joint[bisectRight(ae, a) * (re.length + 1) + bisectRight(re, r)]++;
    st.sums.area += a;
    st.sums.area2 += a * a;
    st.sums.logr += Math.log(r);
    st.sums.logr2 += Math.log(r) ** 2;
    if (!fb) {
      st.accepted++;
      const pt = relPos(b.top, H - b.height);
      const pl = relPos(b.left, W - b.width);
      st.top_hist[bisectRight(POS_EDGES, pt)]++;
      st.left_hist[bisectRight(POS_EDGES, pl)]++;
      st.sums.top += pt;
      st.sums.top2 += pt * pt;
      st.sums.left += pl;
      st.sums.left2 += pl * pl;
    }
  }
  return st;
}

test('the "shipped" distribution settings are those of configs/pretrain.yaml and configs/vitl16.yaml', () => {
  for (const cfg of ['configs/pretrain.yaml', 'configs/vitl16.yaml']) {
    const y = readFileSync(root(cfg), 'utf8');
    const pair = (k: string) => JSON.parse(new RegExp(`^\\s*${k}:\\s*(\\[[^\\]]*\\])`, 'm').exec(y)![1]) as number[];
    for (const s of BOXES.filter((b) => b.name.startsWith('shipped_'))) {
      assert.equal(pair('random_resize_scale'), s.scale, `${cfg} scale`);
      assert.equal(pair('random_resize_aspect_ratio'), s.ratio, `${cfg} aspect`);
    }
    assert.match(y, /^\s*auto_augment:\s*false/m);
    assert.match(y, /^\s*motion_shift:\s*false/m);
    assert.match(y, /^\s*reprob:\s*0(\.0)?\s*$/m);
  }
  // and our preset carries them, flip on (DATA-04: always on in pretraining)
  const p = pretrainTransform();
  assert.equal([p.scale, p.ratio, p.flip, p.autoAugment, p.motionShift, p.reprob], [[0.3, 1.0], [0.75, 1.35], true, false, false, 0]);
});

BOXES.forEach((o, k) => {
  test(`DATA-05 crop-box distribution ${o.name} (${o.H}x${o.W}, scale ${o.scale}, aspect ${o.ratio}): same as the original`, () => {
    const s = ourBoxStats(o, 7700 + k);
    const fbO = o.tries[10];
    const fbU = s.tries[10];
    const zs: Zs[] = [];
    zs.push({ what: 'fallback rate', z: zProp(fbU, s.n, fbO, o.n), detail: `ours ${fbU / s.n}, original ${fbO / o.n}` });
    const chi = (what: string, a: number[], b: number[]) => {
      const [z, c2, dof] = zChi2(a, b);
      zs.push({ what, z, detail: `chi2 ${c2.toFixed(1)} on ${dof} dof` });
    };
    chi('tries used (1..10, fallback)', s.tries, o.tries);
    chi('area x aspect histogram', s.joint, o.joint);
    chi('top position histogram', s.top_hist, o.top_hist);
    chi('left position histogram', s.left_hist, o.left_hist);
    const mean = (what: string, key: 'area' | 'logr' | 'top' | 'left', n1: number, n2: number) => {
      const sq = `${key}2` as 'area2';
      if (n1 < 2 || n2 < 2) return;
      zs.push({ what, z: zMean(s.sums[key], s.sums[sq], n1, o.sums[key], o.sums[sq], n2), detail: `ours ${(s.sums[key] / n1).toFixed(5)}, original ${(o.sums[key] / n2).toFixed(5)}` });
    };
    mean('mean area fraction', 'area', s.n, o.n);
    mean('mean ln(w/h)', 'logr', s.n, o.n);
    mean('mean relative top', 'top', s.accepted, o.accepted);
    mean('mean relative left', 'left', s.accepted, o.accepted);
    judge(o.name, zs);
  });
});

// ------------------------------------------------------------------------------------------ 5. flip

test('DATA-07 flip: one decision per clip, all frames, with the original\'s frequency (p = 0.5)', () => {
  const f = meta<{ n: number; flips: number; T: number; H: number; W: number; S: number }>('flip');
  const { T, H, W, S } = f;
  const data = new Uint8Array(T * H * W * 3);
  for (let i = 0; i < T * H * W; i++) data.fill(((i % W) * 20) & 255, i * 3, i * 3 + 3);
  const clip: ClipFrames = { data, frameOffsets: Array.from({ length: T }, (_, t) => t * H * W * 3), height: H, width: W };
  const out = new Float32Array(3 * T * S * S);
  let flips = 0;
  for (let i = 0; i < f.n; i++) {
    trainClipTransform(clip, S, pretrainTransform(), new Rng(31, i), out, 0);
    let pos = 0;
    let neg = 0;
    for (let t = 0; t < T; t++)
      for (let y = 0; y < S; y++) {
        const d = out[(t * S + y) * S + S - 1] - out[(t * S + y) * S];
        if (d > 0) pos++;
        else if (d < 0) neg++;
      }
    assert.ok(pos === T * S || neg === T * S, `clip ${i}: frames or rows flipped differently (${pos} right-increasing, ${neg} decreasing)`);
    if (neg) flips++;
  }
  judge('flip', [{ what: 'flip rate', z: zProp(flips, f.n, f.flips, f.n), detail: `ours ${flips}/${f.n}, original ${f.flips}/${f.n}` }]);
});

// ------------------------------------------------------------------------------------------ 6. erasing

interface EraseStats {
  name: string; S: number; T: number; p: number; n: number; visible: number; hw: Record<string, number>;
  top_hist: number[]; left_hist: number[]; sums: { top: number; left: number };
  noise: { n: number; s1: number; s2: number; cross: number };
  same_rect_every_frame: boolean; noise_differs_between_frames: boolean;
}

meta<EraseStats[]>('erase').forEach((o, k) => {
  test(`DATA-09 random erasing ${o.name} (S=${o.S}, p=${o.p}): one rectangle on every frame, fresh N(0,1) noise, same distribution as the original`, () => {
    assert.ok(o.same_rect_every_frame && o.noise_differs_between_frames, 'fixture: the original erases one rectangle on every frame, with fresh noise');
    const { S, T } = o;
    const plane = S * S;
    const out = new Float32Array(3 * T * plane);
    const rng = new Rng(41, k);
    let visible = 0;
    const hw: Record<string, number> = {};
    const topH = new Array(10).fill(0);
    const leftH = new Array(10).fill(0);
    const noise = { n: 0, s1: 0, s2: 0, cross: 0 };
    for (let i = 0; i < o.n; i++) {
      out.fill(0);
      randomErase(out, 0, T, S, o.p, rng);
      let y0 = S, y1 = -1, x0 = S, x1 = -1;
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++)
          if (out[y * S + x] !== 0) {
            y0 = Math.min(y0, y); y1 = Math.max(y1, y); x0 = Math.min(x0, x); x1 = Math.max(x1, x);
          }
      if (y1 < 0) {
        assert.ok(out.every((v) => v === 0), 'erased pixels on a later frame or channel only');
        continue;
      }
      visible++;
      const h = y1 - y0 + 1;
      const w = x1 - x0 + 1;
      let differ = false;
      for (let c = 0; c < 3; c++)
        for (let t = 0; t < T; t++)
          for (let y = 0; y < S; y++)
            for (let x = 0; x < S; x++) {
              const v = out[(c * T + t) * plane + y * S + x];
              const inside = y >= y0 && y <= y1 && x >= x0 && x <= x1;
              if (inside !== (v !== 0)) assert.unreachable(`draw ${i}: channel ${c} frame ${t} is not the frame-0 rectangle`);
              if (!inside) continue;
              noise.n++;
              noise.s1 += v;
              noise.s2 += v * v;
              if (t === 0 && T > 1) {
                const v1 = out[(c * T + 1) * plane + y * S + x];
                noise.cross += v * v1;
                if (v1 !== v) differ = true;
              }
            }
      if (T > 1) assert.ok(differ, `draw ${i}: identical noise on frames 0 and 1`);
      hw[`${h},${w}`] = (hw[`${h},${w}`] ?? 0) + 1;
      topH[bisectRight(POS_EDGES, relPos(y0, S - h))]++;
      leftH[bisectRight(POS_EDGES, relPos(x0, S - w))]++;
    }
    const zs: Zs[] = [];
    zs.push({ what: 'visible-erase rate', z: zProp(visible, o.n, o.visible, o.n), detail: `ours ${visible}/${o.n}, original ${o.visible}/${o.n}` });
    const keys = [...new Set([...Object.keys(hw), ...Object.keys(o.hw)])].sort();
    const [zhw, c2, dof] = zChi2(keys.map((q) => hw[q] ?? 0), keys.map((q) => o.hw[q] ?? 0));
    zs.push({ what: '(h, w) histogram', z: zhw, detail: `chi2 ${c2.toFixed(1)} on ${dof} dof` });
    const [zt, ct, dt] = zChi2(topH, o.top_hist);
    zs.push({ what: 'top position histogram', z: zt, detail: `chi2 ${ct.toFixed(1)} on ${dt} dof` });
    const [zl, cl, dl] = zChi2(leftH, o.left_hist);
    zs.push({ what: 'left position histogram', z: zl, detail: `chi2 ${cl.toFixed(1)} on ${dl} dof` });
    // the noise against N(0, 1), on both sides
    for (const [side, q] of [['ours', noise], ['original', o.noise]] as const) {
      const m = q.s1 / q.n;
      const v = q.s2 / q.n;
      zs.push({ what: `${side} noise mean`, z: m * Math.sqrt(q.n), detail: `${m}` });
      zs.push({ what: `${side} noise E[x^2] - 1`, z: (v - 1) / Math.sqrt(2 / q.n), detail: `${v}` });
      if (T > 1) {
        const pairs = q.n / T;
        zs.push({ what: `${side} frame-0/frame-1 noise correlation`, z: (q.cross / pairs) * Math.sqrt(pairs), detail: `${q.cross / pairs}` });
      }
    }
    judge(`erase ${o.name}`, zs);
  });
});

test.run();
