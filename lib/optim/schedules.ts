// Warmup-cosine lr (TRAIN-05), cosine wd (TRAIN-06) and the linear EMA momentum sequence (TRAIN-07).
// Each counts its own steps; step() increments the counter *before* computing, so the first update
// uses s = 1 (lr, wd) or i = 0 (EMA). skip(n) fast-forwards on resume; state() / loadState() persist.

export interface ScheduleState {
  step: number;
}

function checkCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what}: expected a non-negative integer, got ${n}`);
}

/** Horizon lengths exactly as the original computes them (int() truncation, left-to-right products). */
export function scheduleSteps(opts: { warmupEpochs: number; epochs: number; ipe: number; ipeScale?: number }): { warmup: number; total: number } {
  const ipeScale = opts.ipeScale ?? 1.0;
  return { warmup: Math.trunc(opts.warmupEpochs * opts.ipe), total: Math.trunc(ipeScale * opts.epochs * opts.ipe) };
}

/**
 * A value indexed by a step counter: step() advances the counter and returns the new value,
 * skip(n) fast-forwards (resume), state()/loadState() persist the counter.
 */
abstract class CountedSchedule {
  protected s = 0;
  protected v: number;

  protected constructor(
    private readonly scheduleName: string,
    private readonly initial: number,
  ) {
    this.v = initial;
  }

  abstract at(s: number): number;

  /** The value once `count` steps were taken (lr and wd: at(count)). */
  protected valueAfter(count: number): number {
    return this.at(count);
  }

  step(): number {
    this.s += 1;
    this.v = this.valueAfter(this.s);
    return this.v;
  }

  skip(n: number): void {
    checkCount(`${this.scheduleName}.skip`, n);
    if (n === 0) return;
    this.s += n;
    this.v = this.valueAfter(this.s);
  }

  get value(): number {
    return this.v;
  }

  get stepCount(): number {
    return this.s;
  }

  state(): ScheduleState {
    return { step: this.s };
  }

  loadState(st: ScheduleState): void {
    checkCount(`${this.scheduleName}.loadState.step`, st?.step);
    this.s = 0;
    this.v = this.initial;
    this.skip(st.step);
  }
}

export interface WarmupCosineOptions {
  startLr: number;
  refLr: number;
  finalLr: number;
  /** W = int(warmup_epochs * ipe). */
  warmupSteps: number;
  /** T = int(ipe_scale * epochs * ipe). */
  totalSteps: number;
}

export class WarmupCosineSchedule extends CountedSchedule {
  readonly startLr: number;
  readonly refLr: number;
  readonly finalLr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;

  constructor(o: WarmupCosineOptions) {
    super('WarmupCosineSchedule', o.warmupSteps > 0 ? o.startLr : o.refLr);
    checkCount('WarmupCosineSchedule.warmupSteps', o.warmupSteps);
    checkCount('WarmupCosineSchedule.totalSteps', o.totalSteps);
    this.startLr = o.startLr;
    this.refLr = o.refLr;
    this.finalLr = o.finalLr;
    this.warmupSteps = o.warmupSteps;
    this.totalSteps = o.totalSteps;
  }

  /** lr at step s (s >= 1 for real updates). */
  at(s: number): number {
    const W = this.warmupSteps;
    if (s < W) return this.startLr + (s / W) * (this.refLr - this.startLr);
    const Tc = this.totalSteps - W;
    const progress = (s - W) / Math.max(1, Tc);
    // Only clamps from below: past the horizon the cosine would rise again (§8.24).
    return Math.max(this.finalLr, this.finalLr + (this.refLr - this.finalLr) * 0.5 * (1 + Math.cos(Math.PI * progress)));
  }
}

export interface CosineWDOptions {
  refWd: number;
  finalWd: number;
  totalSteps: number;
}

export class CosineWDSchedule extends CountedSchedule {
  readonly refWd: number;
  readonly finalWd: number;
  readonly totalSteps: number;

  constructor(o: CosineWDOptions) {
    super('CosineWDSchedule', o.refWd);
    checkCount('CosineWDSchedule.totalSteps', o.totalSteps);
    if (o.totalSteps === 0) throw new Error('CosineWDSchedule.totalSteps: must be > 0');
    this.refWd = o.refWd;
    this.finalWd = o.finalWd;
    this.totalSteps = o.totalSteps;
  }

  at(s: number): number {
    const wd = this.finalWd + (this.refWd - this.finalWd) * 0.5 * (1 + Math.cos((Math.PI * s) / this.totalSteps));
    // Clamp so it never passes final, whichever direction it moves in.
    return this.finalWd <= this.refWd ? Math.max(this.finalWd, wd) : Math.min(this.finalWd, wd);
  }
}

export interface EmaMomentumOptions {
  start: number;
  end: number;
  ipe: number;
  epochs: number;
  ipeScale?: number;
}

/** m_i = ema0 + i*(ema1-ema0)/(ipe*epochs*ipe_scale), i = 0..int(ipe*epochs*ipe_scale). */
export class EmaMomentumSchedule extends CountedSchedule {
  readonly start: number;
  readonly end: number;
  /** ipe * epochs * ipe_scale (a float, as in the original). */
  readonly horizon: number;
  /** Index of the last element of the sequence. */
  readonly lastIndex: number;

  constructor(o: EmaMomentumOptions) {
    super('EmaMomentumSchedule', o.start);
    this.start = o.start;
    this.end = o.end;
    this.horizon = o.ipe * o.epochs * (o.ipeScale ?? 1.0);
    if (!(this.horizon > 0)) throw new Error(`EmaMomentumSchedule: ipe*epochs*ipe_scale must be > 0, got ${this.horizon}`);
    this.lastIndex = Math.trunc(this.horizon);
  }

  at(i: number): number {
    return this.start + (i * (this.end - this.start)) / this.horizon;
  }

  /** The first update uses m_0, so after `count` updates the value is m_(count-1). */
  protected override valueAfter(count: number): number {
    return this.at(count - 1);
  }

  /** Momentum for the next update (the first call returns m_0). */
  override step(): number {
    if (this.s > this.lastIndex) {
      throw new Error(
        `EMA momentum sequence exhausted after ${this.lastIndex + 1} updates (ipe_scale < 1 makes training outlast it, §8.24)`,
      );
    }
    return super.step();
  }
}
