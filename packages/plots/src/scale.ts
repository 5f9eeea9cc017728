// Scales map a data domain onto a pixel range; ticks are "nice" values a reader expects:
// powers of ten (with 2 and 5 between them) on log axes, 1-2-5 steps on linear axes.

export type ScaleType = "linear" | "log";

export interface Tick {
  value: number;
  /** Major ticks get a label and a grid line; minor ticks only a short mark. */
  major: boolean;
}

export interface Scale {
  type: ScaleType;
  domain: [number, number];
  range: [number, number];
  /** Pixel position of a data value (NaN for values the scale cannot show, e.g. ≤ 0 on a log axis). */
  map(value: number): number;
  ticks(): Tick[];
}

/** True when `value` can be placed on an axis of this type. */
export function isPlottable(type: ScaleType, value: number): boolean {
  return Number.isFinite(value) && (type === "linear" || value > 0);
}

export function linearScale(domain: [number, number], range: [number, number], tickCount = 5): Scale {
  const [d0, d1] = domain;
  const span = d1 - d0 || 1;
  return {
    type: "linear",
    domain,
    range,
    map: (v) => (Number.isFinite(v) ? range[0] + ((v - d0) / span) * (range[1] - range[0]) : Number.NaN),
    ticks: () => linearTicks(d0, d1, tickCount).map((value) => ({ value, major: true })),
  };
}

export function logScale(domain: [number, number], range: [number, number]): Scale {
  const [l0, l1] = [Math.log10(domain[0]), Math.log10(domain[1])];
  const span = l1 - l0 || 1;
  return {
    type: "log",
    domain,
    range,
    map: (v) =>
      v > 0 && Number.isFinite(v) ? range[0] + ((Math.log10(v) - l0) / span) * (range[1] - range[0]) : Number.NaN,
    ticks: () => logTicks(domain[0], domain[1]),
  };
}

/** The 1-2-5 step that gives about `count` intervals over [lo, hi]. */
export function niceStep(lo: number, hi: number, count = 5): number {
  const raw = Math.abs(hi - lo) / Math.max(1, count);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nice * mag;
}

/** Multiples of a 1-2-5 step inside [lo, hi]. */
export function linearTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  const step = niceStep(lo, hi, count);
  const out: number[] = [];
  const start = Math.ceil(lo / step - 1e-9);
  const end = Math.floor(hi / step + 1e-9);
  for (let i = start; i <= end && out.length < 100; i++) out.push(roundTo(i * step, step));
  return out;
}

/** Widen [lo, hi] outward to multiples of its 1-2-5 step (a flat series gets a small band around it). */
export function niceLinearDomain(lo: number, hi: number, count = 5): [number, number] {
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return niceLinearDomain(lo - pad, hi + pad, count);
  }
  const step = niceStep(lo, hi, count);
  return [roundTo(Math.floor(lo / step + 1e-9) * step, step), roundTo(Math.ceil(hi / step - 1e-9) * step, step)];
}

/**
 * Log ticks over [lo, hi] (both > 0): every power of ten is major, 2·10^k and 5·10^k minor.
 * When fewer than two powers of ten fall inside, or the domain spans at most two decades, the 2 and
 * 5 ticks are promoted to major so the axis has enough labels.
 */
export function logTicks(lo: number, hi: number): Tick[] {
  if (!(lo > 0) || !(hi > 0) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  const [a, b] = lo <= hi ? [lo, hi] : [hi, lo];
  const ticks: Tick[] = [];
  const k0 = Math.floor(Math.log10(a));
  const k1 = Math.ceil(Math.log10(b));
  const inside = (v: number) => v >= a * (1 - 1e-9) && v <= b * (1 + 1e-9);
  for (let k = k0; k <= k1; k++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** k).toPrecision(12));
      if (inside(v)) ticks.push({ value: v, major: m === 1 });
    }
  }
  const majors = ticks.filter((t) => t.major).length;
  // Within two decades there is room to label the 2s and 5s too (an lr grid in factors of 2 spans ~1.5).
  if (majors < 2 || Math.log10(b / a) <= 2 + 1e-9) for (const t of ticks) t.major = true;
  // A very narrow domain (e.g. 120..270) may hold fewer than two 1-2-5 values: use 1-2-5 linear steps.
  if (ticks.length < 2)
    return linearTicks(a, b, 4)
      .filter((v) => v > 0)
      .map((value) => ({ value, major: true }));
  return ticks;
}

/** The largest 1-2-5 value (1, 2 or 5 × 10^k) ≤ v, for v > 0. */
export function floor125(v: number): number {
  const k = Math.floor(Math.log10(v));
  for (const m of [5, 2, 1]) {
    const t = Number((m * 10 ** k).toPrecision(12));
    if (t <= v * (1 + 1e-12)) return t;
  }
  return Number((5 * 10 ** (k - 1)).toPrecision(12));
}

/** The smallest 1-2-5 value ≥ v, for v > 0. */
export function ceil125(v: number): number {
  const k = Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) {
    const t = Number((m * 10 ** k).toPrecision(12));
    if (t >= v * (1 - 1e-12)) return t;
  }
  return Number((10 ** (k + 1)).toPrecision(12));
}

/**
 * A log domain padded as padLogDomain, then widened outward to 1-2-5 values, so that both ends of
 * the axis carry a tick (and the left-most one a label) instead of the data starting between ticks.
 */
export function niceLogDomain(lo: number, hi: number, fraction = 0.06): [number, number] {
  const [a, b] = padLogDomain(lo, hi, fraction);
  return [floor125(a), ceil125(b)];
}

/** Pad a log domain by `fraction` of its width in decades on each side (a single value gets ±0.3 decade). */
export function padLogDomain(lo: number, hi: number, fraction = 0.06): [number, number] {
  const l0 = Math.log10(lo);
  const l1 = Math.log10(hi);
  const pad = l1 - l0 > 0 ? (l1 - l0) * fraction : 0.3;
  return [10 ** (l0 - pad), 10 ** (l1 + pad)];
}

function roundTo(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 2);
  return Number(v.toFixed(Math.min(digits, 20)));
}

/** Short tick label: 1e-3, 2e9, 0.5, 3.25. */
export function formatTick(v: number): string {
  if (v === 0) return "0";
  const abs = Math.abs(v);
  if (abs >= 1e4 || abs < 1e-2) {
    const [m, e] = v.toExponential().split("e");
    const mant = Number(Number(m).toPrecision(3));
    return `${mant}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(4)));
}
