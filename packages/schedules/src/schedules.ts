// Learning-rate schedules as pure functions of tokens seen (2408.13359 eq. 2, 7, 8).
// createSchedule validates once and precomputes constants so the returned function is cheap
// enough to call every training step.
import type { DecayShape, ScheduleSpec } from "@powersweep/spec";

export interface ScheduleContext {
  /** N: total training tokens. */
  totalTokens: number;
  /** β: sequences per step (eq. 7 multiplies by it). */
  batchSize: number;
}

export interface PowerLrParams {
  powerA: number;
  powerB: number;
  etaMax: number;
  batchSize: number;
}

/**
 * Rate of the exponential decay shape, the default everywhere (sweeps, `schedule`, the Power
 * scheduler config). 2408.13359 writes the decay phase of both schedulers (eq. 2 and eq. 8) as
 * f(n, N, N_decay)·η with f a function that decays the lr to 0 over the last N_decay tokens, and
 * trains its final models with an exponential decay; it gives no rate. Ours, with p = (n − (N −
 * N_decay)) / N_decay the progress through the decay window:
 *
 *   f(p) = (e^(−k·p) − e^(−k)) / (1 − e^(−k)),  k = 5,
 *
 * a true exponential shifted and rescaled so that f(0) = 1 and f(1) = 0 exactly. With k = 5 the pure
 * exponential would have fallen to e^−5 ≈ 0.7% by the end, so the shift is small; f(0.5) ≈ 0.076.
 */
export const EXPONENTIAL_DECAY_RATE = 5;
const expEnd = Math.exp(-EXPONENTIAL_DECAY_RATE);

/** Decay factor f at progress p ∈ [0, 1] through the decay window: 1 at p = 0, 0 at p = 1. */
export function decayFactor(shape: DecayShape, p: number): number {
  switch (shape) {
    case "linear":
      return 1 - p;
    case "cosine":
      return 0.5 * (1 + Math.cos(Math.PI * p));
    case "one-minus-sqrt":
      return 1 - Math.sqrt(p);
    case "exponential":
      return (Math.exp(-EXPONENTIAL_DECAY_RATE * p) - expEnd) / (1 - expEnd);
  }
}

/** eq. 7: η_power(n) = min(η_max, β·a·n^b), n = tokens trained so far. n = 0 gives η_max (0^b = ∞ for b < 0). */
export function powerLr(tokens: number, { powerA, powerB, etaMax, batchSize }: PowerLrParams): number {
  return Math.min(etaMax, batchSize * powerA * tokens ** powerB);
}

function fail(message: string): never {
  throw new Error(`invalid schedule: ${message}`);
}

function requirePositive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) fail(`${name} must be a finite number > 0 (got ${value})`);
}

/**
 * The lr at `tokens` seen, for tokens in [0, totalTokens]. Values outside are clamped into that
 * range (a last step that slightly overshoots N gets the final lr). Throws an Error on bad specs.
 */
export function createSchedule(spec: ScheduleSpec, ctx: ScheduleContext): (tokens: number) => number {
  const N = ctx.totalTokens;
  requirePositive("totalTokens", N);
  const warmup = spec.warmupTokens;
  if (!(Number.isFinite(warmup) && warmup >= 0)) fail(`warmupTokens must be a finite number ≥ 0 (got ${warmup})`);
  if (warmup > N) fail(`warmupTokens (${warmup}) exceeds totalTokens (${N})`);
  const clamp = (n: number) => Math.min(Math.max(n, 0), N);

  switch (spec.type) {
    case "constant": {
      const { lr } = spec;
      requirePositive("lr", lr);
      return (tokens) => {
        const n = clamp(tokens);
        return n < warmup ? (lr * n) / warmup : lr;
      };
    }
    case "cosine": {
      const { lr } = spec;
      requirePositive("lr", lr);
      const minLrRatio = spec.minLrRatio ?? 0;
      if (!(minLrRatio >= 0 && minLrRatio <= 1)) fail(`minLrRatio must be in [0, 1] (got ${minLrRatio})`);
      if (warmup >= N) fail(`warmupTokens (${warmup}) must be less than totalTokens (${N}) for cosine`);
      const span = N - warmup;
      return (tokens) => {
        const n = clamp(tokens);
        if (n < warmup) return (lr * n) / warmup;
        return lr * (minLrRatio + (1 - minLrRatio) * decayFactor("cosine", (n - warmup) / span));
      };
    }
    case "wsd":
    case "power": {
      const { decayFraction, decayShape } = spec;
      if (!(decayFraction >= 0 && decayFraction <= 1)) fail(`decayFraction must be in [0, 1] (got ${decayFraction})`);
      const decayTokens = decayFraction * N;
      const decayStart = N - decayTokens; // N − N_decay
      if (warmup > decayStart) {
        fail(`warmupTokens (${warmup}) + decay (${decayFraction} × ${N} = ${decayTokens}) exceed totalTokens (${N})`);
      }
      // Peak value that warmup ramps to, lr in the stable phase, and value the decay starts from.
      let peak: number;
      let stable: (n: number) => number;
      let decayFrom: number;
      if (spec.type === "wsd") {
        // eq. 2
        const { lr } = spec;
        requirePositive("lr", lr);
        peak = lr;
        stable = () => lr;
        decayFrom = lr;
      } else {
        // eq. 8 with η_power from eq. 7
        const { powerA, powerB, etaMax } = spec;
        requirePositive("powerA", powerA);
        requirePositive("etaMax", etaMax);
        requirePositive("batchSize", ctx.batchSize);
        if (!(Number.isFinite(powerB) && powerB < 0)) fail(`powerB must be a finite number < 0 (got ${powerB})`);
        const params = { powerA, powerB, etaMax, batchSize: ctx.batchSize };
        peak = powerLr(warmup, params); // η_power(N_warmup); η_max when N_warmup = 0
        stable = (n) => powerLr(n, params);
        decayFrom = powerLr(decayStart, params); // η_power(N − N_decay), not η_max
      }
      return (tokens) => {
        const n = clamp(tokens);
        if (n < warmup) return (peak * n) / warmup;
        if (n <= decayStart) return stable(n);
        return decayFrom * decayFactor(decayShape, (n - decayStart) / decayTokens);
      };
    }
  }
}

/** `points` evenly spaced samples from 0 to totalTokens inclusive (points ≥ 2), for plots and the CLI. */
export function expectedLrCurve(
  spec: ScheduleSpec,
  ctx: ScheduleContext,
  points: number,
): Array<{ tokens: number; lr: number }> {
  if (!(Number.isInteger(points) && points >= 2)) throw new Error(`points must be an integer ≥ 2 (got ${points})`);
  const schedule = createSchedule(spec, ctx);
  const curve: Array<{ tokens: number; lr: number }> = [];
  for (let i = 0; i < points; i++) {
    const tokens = i === points - 1 ? ctx.totalTokens : (ctx.totalTokens * i) / (points - 1);
    curve.push({ tokens, lr: schedule(tokens) });
  }
  return curve;
}
