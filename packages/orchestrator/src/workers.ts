// The fleet view: each worker process registers a row in Worker and heartbeats it; a worker whose
// last heartbeat is older than `lostAfterSeconds` is shown as "lost" (it died without saying so).
import type { Db } from "@powersweep/db";

export type WorkerRowState = "idle" | "busy" | "stopping" | "stopped";
export type WorkerViewState = WorkerRowState | "lost";

export interface WorkerRegistration {
  id: string;
  host: string;
  pid: number;
  /** Device ids ("0", "1", …) for GPU slots, or "cpu:<n>" for CPU slots. */
  devices: string[];
  /** Trainer backends this worker offers (comma-separated, e.g. "tfjs,torch,sleep"). */
  backend: string;
  version: string;
}

/** Creates (or re-creates, after a restart with the same id) the worker's row. */
export async function registerWorker(db: Db, w: WorkerRegistration): Promise<void> {
  const now = new Date();
  await db.worker.upsert({
    where: { id: w.id },
    create: { ...w, state: "idle", startedAt: now, lastHeartbeatAt: now },
    update: {
      host: w.host,
      pid: w.pid,
      devices: w.devices,
      backend: w.backend,
      version: w.version,
      state: "idle",
      startedAt: now,
      lastHeartbeatAt: now,
      currentTrialId: null,
    },
  });
}

export interface Heartbeat {
  state: WorkerRowState;
  currentTrialId: string | null;
  /** Sum over this worker's running trials of their latest tokens/s (null when idle). */
  tokensPerSecond: number | null;
}

/** Updates the worker's state and lastHeartbeatAt (one UPDATE). */
export async function heartbeat(db: Db, workerId: string, h: Heartbeat): Promise<void> {
  await db.worker.updateMany({
    where: { id: workerId },
    data: {
      state: h.state,
      currentTrialId: h.currentTrialId,
      tokensPerSecond: h.tokensPerSecond,
      lastHeartbeatAt: new Date(),
    },
  });
}

export interface WorkerView {
  id: string;
  host: string;
  pid: number;
  devices: string[];
  backend: string;
  version: string;
  state: WorkerViewState;
  currentTrialId: string | null;
  tokensPerSecond: number | null;
  startedAt: string;
  lastHeartbeatAt: string;
  /** Seconds since the last heartbeat. */
  silentSeconds: number;
}

/**
 * Lists workers, newest heartbeat first. Stopped workers are kept (with their last state) unless
 * `includeStopped` is false; a non-stopped worker silent for more than `lostAfterSeconds` is "lost".
 */
export async function listWorkers(
  db: Db,
  {
    lostAfterSeconds = 60,
    includeStopped = true,
    now = new Date(),
  }: { lostAfterSeconds?: number; includeStopped?: boolean; now?: Date } = {},
): Promise<WorkerView[]> {
  const rows = await db.worker.findMany({
    where: includeStopped ? {} : { state: { not: "stopped" } },
    orderBy: { lastHeartbeatAt: "desc" },
    take: 1000,
  });
  return rows.map((w) => {
    const silentSeconds = Math.max(0, (now.getTime() - w.lastHeartbeatAt.getTime()) / 1000);
    const lost = w.state !== "stopped" && silentSeconds > lostAfterSeconds;
    return {
      id: w.id,
      host: w.host,
      pid: w.pid,
      devices: w.devices,
      backend: w.backend,
      version: w.version,
      state: lost ? "lost" : w.state,
      currentTrialId: lost ? null : w.currentTrialId,
      tokensPerSecond: lost ? null : w.tokensPerSecond,
      startedAt: w.startedAt.toISOString(),
      lastHeartbeatAt: w.lastHeartbeatAt.toISOString(),
      silentSeconds,
    };
  });
}
