// Keyframe seeking: decode a clip from the last keyframe before it instead of from frame 0, as
// decord does. On a long video the clip's frames are a small part of what a decode from the start
// goes through (a 60 s video at 30 fps: 64 frames out of up to 1800).
//
// ffmpeg seeks by time and the bundled build has no ffprobe, so the keyframes' display indices and
// timestamps come from the decode that counts the frames: select's print() writes them to stderr.
// A seek is then trusted only if the first frame at or after the keyframe's timestamp is the
// keyframe itself (printed again); otherwise the caller decodes from the start, so frames are
// never wrong, only sometimes slower.

export interface KeyFrame {
  /** display index (select's n over the whole stream) */
  frame: number;
  /** timestamp in the stream's time base (ffmpeg run with -copyts, so not shifted) */
  pts: number;
  /** the same in seconds (print's %f: microseconds) */
  time: number;
}

export interface Seek {
  /** the keyframe decoding starts at */
  key: KeyFrame;
  /** -ss value in seconds (-seek_timestamp 1: the stream's own clock) */
  target: number;
}

// Tags printed before each record so that groups of inputs in one process can be told apart.
const KEY_TAG = 1;
const CHECK_TAG = 1_000_001;

// ffmpeg.c moves a seek 3/23 s earlier for streams with B-frames (its "dts heuristic"); aiming
// this far past the keyframe lands on it in both cases.
export const PAST_KEY = 3 / 23 + 0.001;

/**
 * A select filter that passes every frame and prints (tag, n, pts, t) for each keyframe of
 * input `k`. Its value is never NaN (select would misroute the frame).
 */
export function keyPrintFilter(k: number): string {
  return `select='if(key\\,if(print(${-(KEY_TAG + k)}\\,16)\\,if(print(n\\,16)+1\\,if(isnan(print(pts\\,16))+1\\,isnan(print(t\\,16))*0+1)))\\,1)'`;
}

/**
 * Filters for a seeked decode of input `k`: drop what comes before the keyframe (a seek may land
 * earlier, and open GOPs output leading frames), then select `rel` (indices relative to the
 * keyframe) and print the pts of the first frame kept, the check that the keyframe came out.
 */
export function seekSelectFilters(k: number, key: KeyFrame, rel: number[]): string[] {
  const rest = rel.filter((i) => i !== 0);
  const first = rel.includes(0) ? 1 : 0;
  return [
    `select='gte(pts\\,${key.pts})'`,
    `select='if(eq(n\\,0)\\,if(print(${-(CHECK_TAG + k)}\\,16)\\,isnan(print(pts\\,16))*0+${first})\\,${rest.length > 0 ? pickFrames(rest) : '0'})'`,
  ];
}

/** A select expression true for frames whose n is one of `indices`. */
export function pickFrames(indices: readonly number[]): string {
  return indices.map((i) => `eq(n\\,${i})`).join('+');
}

export interface Printed {
  /** keyframes per input, in stream order, only those with finite timestamps */
  keys: Map<number, KeyFrame[]>;
  /** pts of the first frame kept after a seek, per input */
  checks: Map<number, number>;
}

/** Read what keyPrintFilter and seekSelectFilters printed (print's bare "%f" lines). */
export function parsePrinted(stderr: string): Printed {
  const nums: number[] = [];
  for (const line of stderr.split(/\r?\n/)) {
    const t = line.trim();
    if (/^-?(\d+\.\d+|nan|inf)$/.test(t)) nums.push(t.endsWith('nan') ? NaN : Number(t.replace('inf', 'Infinity')));
  }
  const keys = new Map<number, KeyFrame[]>();
  const checks = new Map<number, number>();
  for (let i = 0; i < nums.length; ) {
    const tag = -nums[i];
    if (Number.isInteger(tag) && tag >= CHECK_TAG && i + 1 < nums.length) {
      checks.set(tag - CHECK_TAG, nums[i + 1]);
      i += 2;
    } else if (Number.isInteger(tag) && tag >= KEY_TAG && tag < CHECK_TAG && i + 3 < nums.length) {
      const [frame, pts, time] = [nums[i + 1], nums[i + 2], nums[i + 3]];
      const list = keys.get(tag - KEY_TAG) ?? [];
      const prev = list[list.length - 1];
      // a key is only useful if frame, pts and time all move forward
      if (Number.isInteger(frame) && Number.isFinite(pts) && Number.isFinite(time) && (!prev || (frame > prev.frame && pts > prev.pts && time > prev.time))) {
        list.push({ frame, pts, time });
      }
      keys.set(tag - KEY_TAG, list);
      i += 4;
    } else {
      i++;
    }
  }
  return { keys, checks };
}

/** Keyframes a video keeps at most (see packKeyFrames). */
export const MAX_KEYFRAMES = 64;

/**
 * Keyframes packed as [frame, pts, time, ahead] for the loader, which keeps them for every video in
 * the trainer and in each worker and ships them with each batch's jobs. `ahead` is how far past the
 * key a seek may aim (ffmpeg's 3/23 s B-frame allowance + 1 ms, or half the gap to the next
 * keyframe, so as not to land on that one). At most `max` keys are kept, evenly spread, frame 0
 * among them: a 6.5-minute video with GOP 8 has 1460 keys and an array of them per video would grow
 * a million-video index by gigabytes per process; thinned, a clip starts at most a few dozen frames
 * earlier than it could.
 */
export function packKeyFrames(keys: readonly KeyFrame[], max = MAX_KEYFRAMES): Float64Array {
  const n = keys.length;
  const keep = n <= max ? keys.map((_, i) => i) : Array.from({ length: max }, (_, i) => Math.round((i * (n - 1)) / (max - 1)));
  const out = new Float64Array(keep.length * 4);
  keep.forEach((i, j) => {
    const k = keys[i];
    const next = keys[i + 1];
    out.set([k.frame, k.pts, k.time, next ? Math.min(PAST_KEY, (next.time - k.time) / 2) : PAST_KEY], 4 * j);
  });
  return out;
}

/**
 * Where to start decoding for a clip whose first frame is `first`: the last kept keyframe at or
 * before it, or null when that is frame 0 (nothing to skip) or the keys are unknown.
 */
export function chooseSeek(packed: Float64Array | undefined, first: number): Seek | null {
  const n = packed ? packed.length / 4 : 0;
  if (!packed || n === 0 || packed[0] > first) return null;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (packed[4 * mid] <= first) lo = mid;
    else hi = mid - 1;
  }
  const key: KeyFrame = { frame: packed[4 * lo], pts: packed[4 * lo + 1], time: packed[4 * lo + 2] };
  const ahead = packed[4 * lo + 3];
  if (key.frame === 0 || !(ahead > 1e-6)) return null;
  return { key, target: key.time + ahead };
}
