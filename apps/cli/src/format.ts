// Terminal formatting shared by the CLI commands and the demo.
import type { TokenPlan } from "@powersweep/spec/api";

export interface StatusCounts {
  queued?: number;
  running?: number;
  succeeded?: number;
  failed?: number;
  diverged?: number;
  cancelled?: number;
}

export interface SweepSummary {
  id: string;
  name: string;
  kind: string;
  status: string;
  trialCount: number;
  counts: StatusCounts;
  /** Measured training speed of running trials, when the API reports it. */
  tokensPerSecond?: number | null;
  remainingTokens?: number | null;
  /** Tokens the plan trains against the same trials from scratch (shared trunks). */
  trainingTokens?: TokenPlan;
}

/** Outcomes first: "done" counts trained trials only (succeeded or diverged), never cancelled ones. */
export function formatCounts(c: StatusCounts): string {
  const done = (c.succeeded ?? 0) + (c.diverged ?? 0);
  return `done ${done} running ${c.running ?? 0} queued ${c.queued ?? 0} failed ${c.failed ?? 0}${c.cancelled ? ` cancelled ${c.cancelled}` : ""}`;
}

export function bar(fraction: number, width = 30): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}]`;
}

/** Elapsed or remaining time at a fixed width that moves every second: "0:07", "12:34", "1:02:03". */
export function formatClock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–:––";
  const s = Math.round(seconds);
  const two = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

/**
 * A steady ETA: the remaining tokens over an exponentially smoothed training speed (time constant
 * `tauSeconds`). The speed the API reports is that of the trials running at that instant, which
 * jumps as trials start and finish; the smoothed speed does not, so the ETA counts down instead
 * of jumping 5m → 3m → 2m → 90 s → 2m.
 */
export function createEta(tauSeconds = 30) {
  let speed: number | undefined;
  let lastMs: number | undefined;
  let samples = 0;
  return (s: Pick<SweepSummary, "tokensPerSecond" | "remainingTokens">, nowMs: number): number | undefined => {
    const measured = s.tokensPerSecond;
    if (measured && measured > 0) {
      samples++;
      if (speed === undefined || lastMs === undefined) speed = measured;
      else {
        // The plain mean of the samples so far until there are enough for the time constant
        // (an EMA started from one sample would carry that sample's error for τ seconds).
        const w = Math.max(1 / samples, 1 - Math.exp(-Math.max(0, nowMs - lastMs) / 1000 / tauSeconds));
        speed += w * (measured - speed);
      }
      lastMs = nowMs;
    }
    if (s.remainingTokens == null || speed === undefined) return undefined;
    return s.remainingTokens / speed;
  };
}

/**
 * One progress line: a bar of finished trials, "done" counting only trained ones (a cancelled sweep
 * reads "17/36 done … cancelled 19", never "36/36"), and an ETA when one is given.
 */
export function progressLine(s: SweepSummary, etaSeconds?: number): string {
  const c = s.counts ?? {};
  const finished = (c.succeeded ?? 0) + (c.diverged ?? 0) + (c.failed ?? 0) + (c.cancelled ?? 0);
  const done = (c.succeeded ?? 0) + (c.diverged ?? 0);
  const total = s.trialCount || 1;
  const left = finished < s.trialCount && etaSeconds !== undefined ? `  ETA ${formatClock(etaSeconds)}` : "";
  const rest = `running ${c.running ?? 0} queued ${c.queued ?? 0} failed ${c.failed ?? 0}${c.cancelled ? ` cancelled ${c.cancelled}` : ""}`;
  return `${bar(finished / total)} ${done}/${s.trialCount} done  ${rest}${left}`;
}

export function renderTable(rows: Array<Record<string, string>>): string {
  if (!rows.length) return "";
  const cols = Object.keys(rows[0]!);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [
    line(cols),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(cols.map((c) => r[c] ?? ""))),
  ].join("\n");
}

/**
 * What shared trunks save, for dry runs, status and the demo: "trains 2.1e6 tokens with shared trunks
 * (58% of 3.6e6 from scratch)"; null when nothing is shared.
 */
export function tokenPlanLine(plan: TokenPlan | undefined): string | null {
  if (!plan || !(plan.fromScratch > 0) || plan.planned >= plan.fromScratch) return null;
  const pct = Math.round((100 * plan.planned) / plan.fromScratch);
  return `trains ${tokenCount(plan.planned)} tokens with shared trunks: ${pct}% of the ${tokenCount(plan.fromScratch)} the same trials need from scratch`;
}

const tokenCount = (n: number) => (n >= 1e4 ? n.toExponential(2) : String(Math.round(n)));
