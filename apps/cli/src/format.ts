// Terminal formatting shared by the CLI commands and the demo.
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
}

export function formatCounts(c: StatusCounts): string {
  const done = (c.succeeded ?? 0) + (c.diverged ?? 0);
  return `done ${done} running ${c.running ?? 0} queued ${c.queued ?? 0} failed ${c.failed ?? 0}${c.cancelled ? ` cancelled ${c.cancelled}` : ""}`;
}

export function bar(fraction: number, width = 30): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}]`;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "?";
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

/** One progress line: bar, counts, and an ETA from measured tokens/s when the API reports it. */
export function progressLine(s: SweepSummary): string {
  const c = s.counts ?? {};
  const finished = (c.succeeded ?? 0) + (c.diverged ?? 0) + (c.failed ?? 0) + (c.cancelled ?? 0);
  const total = s.trialCount || 1;
  const eta =
    s.tokensPerSecond && s.remainingTokens != null && s.tokensPerSecond > 0
      ? `  ETA ${formatSeconds(s.remainingTokens / s.tokensPerSecond)}`
      : "";
  return `${bar(finished / total)} ${finished}/${s.trialCount}  ${formatCounts(c)}${eta}`;
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
