// Heartbeat, lease and cancellation: every heartbeatMs the worker row shows it alive (state, speed)
// and the lease of each running trial is renewed in Postgres. A trial the worker no longer holds
// (cancel marked it cancelled, or the sweeper took it back after its lease expired) is aborted with
// reason "lost": the status column is the one cancel path.
import type { Db } from "@powersweep/db";
import { heartbeat, renewLeases, type SqlClient } from "@powersweep/orchestrator";
import { errorText, type Log } from "./persist.ts";

/** A trial running in one of this worker's slots. */
export interface ActiveTrial {
  trialId: string;
  sweepId: string;
  attempt: number;
  controller: AbortController;
  tokensPerSecond: number;
}

export interface Heartbeat {
  /** One beat now (with a state when stopping); beats never overlap. */
  beat(state?: "stopping" | "stopped"): Promise<void>;
  /** Stops the periodic beats (waits for the one in flight). */
  stop(): Promise<void>;
}

export function startHeartbeat({
  db,
  sql,
  workerId,
  active,
  heartbeatMs,
  leaseSeconds,
  log,
}: {
  db: Db;
  sql: SqlClient;
  workerId: string;
  active: Map<string, ActiveTrial>;
  heartbeatMs: number;
  leaseSeconds: number;
  log: Log;
}): Heartbeat {
  let beating: Promise<void> = Promise.resolve();
  const once = async (state?: "stopping" | "stopped") => {
    const running = [...active.values()];
    if (running.length && !state) {
      try {
        const held = await renewLeases(
          sql,
          workerId,
          running.map((a) => a.trialId),
          leaseSeconds,
        );
        for (const a of running) {
          if (held.has(a.trialId) || a.controller.signal.aborted) continue;
          log("trial no longer held (cancelled or lease lost): stopping it", { trialId: a.trialId });
          a.controller.abort("lost");
        }
      } catch (e) {
        log("lease renewal failed", { error: errorText(e) });
      }
    }
    try {
      await heartbeat(db, workerId, {
        state: state ?? (running.length ? "busy" : "idle"),
        currentTrialId: running[0]?.trialId ?? null,
        tokensPerSecond: running.length ? running.reduce((s, a) => s + a.tokensPerSecond, 0) : null,
      });
    } catch (e) {
      log("heartbeat failed", { error: errorText(e) });
    }
  };
  const beat = (state?: "stopping" | "stopped") => {
    beating = beating.then(() => once(state));
    return beating;
  };
  const timer = setInterval(() => void beat(), heartbeatMs);
  return {
    beat,
    async stop() {
      clearInterval(timer);
      await beating;
    },
  };
}
