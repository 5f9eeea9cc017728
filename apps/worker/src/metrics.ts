// A running trial's progress points: buffered and written at a bounded rate (every flushMs, or
// when flushPoints are waiting); a failed write keeps its points for the next one. What is left
// when the trainer returns goes with the result (one transaction).
import { type MetricPoint, recordMetrics, type SqlClient } from "@powersweep/orchestrator";
import type { TrialProgress } from "@powersweep/trainer";
import { errorText, type Log } from "./persist.ts";

export interface MetricsBuffer {
  push(p: TrialProgress): void;
  /** Stops the periodic flush, waits for the write in flight and hands over the points left. */
  close(): Promise<MetricPoint[]>;
}

export function createMetricsBuffer({
  sql,
  trialId,
  attempt,
  flushMs,
  flushPoints,
  log,
}: {
  sql: SqlClient;
  trialId: string;
  attempt: number;
  flushMs: number;
  flushPoints: number;
  log: Log;
}): MetricsBuffer {
  let buffer: MetricPoint[] = [];
  let flushing: Promise<void> = Promise.resolve();
  const flush = () => {
    if (!buffer.length) return flushing;
    const points = buffer;
    buffer = [];
    flushing = flushing.then(() =>
      recordMetrics(sql, trialId, attempt, points).then(
        () => {},
        (e) => {
          buffer = points.concat(buffer); // kept; written with the next flush or the result
          log("metrics write failed, kept", { trialId, error: errorText(e) });
        },
      ),
    );
    return flushing;
  };
  const timer = setInterval(() => void flush(), flushMs);
  return {
    push(p) {
      buffer.push({ step: p.step, tokens: p.tokens, lr: p.lr, trainLoss: p.trainLoss, evalLoss: p.evalLoss ?? null });
      if (buffer.length >= flushPoints) void flush();
    },
    async close() {
      clearInterval(timer);
      await flushing;
      return buffer;
    },
  };
}
