// The worker process: takes trial jobs from BullMQ, runs them on a trainer, records the lifecycle in
// Postgres (packages/orchestrator claims.ts, results.ts) and heartbeats its Worker row.
//
// Slots: one BullMQ Worker and a slot pool (slots.ts), which sets the BullMQ concurrency to
// slots + prefetch + the jobs that are only finishing (result commit, acknowledgement). With `devices`
// each slot is a GPU (exec trainers get CUDA_VISIBLE_DEVICES=<device>); otherwise `concurrency`
// CPU slots. A job holds its slot from claim until its trainer returns, so at most one trial runs
// per device at a time, while the previous trial's result commit and job acknowledgement overlap
// the next trial's start.
//
// Postgres per trial: the claim (markRunning, orchestrator claims.ts: queued → running with a lease)
// and the result through one group-commit writer (createTrialWriter, trialWriter.ts): claims and
// results of concurrent slots share one statement, each row stays idempotent, all as prepared statements. A claim alone goes to a pool
// with synchronous_commit = off (a claim lost in a Postgres crash leaves the trial queued, and the
// sweeper gives it a job again); a result, or a result with the next trial's claim (one statement:
// with one slot, the usual case), commits synchronously. The BullMQ job is acknowledged only after
// its result has committed. The job is transport: attempts and retries are decided in Postgres.
//
// Shared trunks (branches.ts, docs/branches.md): a trunk host saves a checkpoint for each of its
// waiting branches and marks it ready (the branch then gets its job); a branch starts from its
// checkpoint; a host's final result releases the branches it never saved to train from scratch.
//
// Lease: the heartbeat (heartbeatMs) renews the lease of every running trial (leaseSeconds). A
// trial it no longer holds (cancelled, or taken back by the sweeper after its lease expired) is
// aborted and nothing is recorded for it.
//
// Faults:
//   SIGKILL       the lease expires (leaseSeconds) and the sweeper (API process) queues the trial
//                 again for its next attempt; that attempt resumes from <checkpointDir>/<trialId>
//                 (checkpoints every checkpointEveryTokens). BullMQ's stalled check may deliver
//                 the old job sooner: its claim finds the trial running and does nothing.
//   close()       (SIGTERM) stop fetching, abort running trials with reason "shutdown" (the
//                 trainer checkpoints), put each trial back to queued and its job back to wait
//                 (job.moveToWait + WaitingError: no attempt consumed), exit within the timeout.
//   Redis lost    ioredis reconnects; results go to Postgres, so a vanished job still records.
//   Postgres lost result writes retry with backoff (kept in memory until written, each retry logged).
//   crash         trainer throws: back to queued and the job delayed by the retry backoff
//                 (packages/orchestrator retry.ts); after the last attempt, failed with errorClass "crash".
//   invalid       InvalidConfigError: failed at once, errorClass "invalid-config" (UnrecoverableError).
//   cancel        cancel marks the running trials cancelled in Postgres; the next lease renewal
//                 misses them and aborts them (reason "lost"), recording nothing.
//   creating      a job of a sweep still being accepted is claimed by nobody: it is delayed and
//                 tried again (claimBlocker).
import { hostname } from "node:os";
import { join } from "node:path";
import { createDb, createSqlPool, type Db } from "@powersweep/db";
import {
  type ClaimedTrial,
  claimBlocker,
  completeSweepIfDone,
  createTrialWriter,
  DEFAULT_LEASE_SECONDS,
  mayRetry,
  recordCurve,
  recordMetrics,
  registerWorker,
  releaseTrial,
  retryDelayMs,
  sweepTrialMaxSeconds,
  type TrialResultRecord,
} from "@powersweep/orchestrator";
import {
  createFitQueue,
  createRedis,
  createTrialQueue,
  type FitQueue,
  QUEUE_TRIALS,
  requestFit,
  type TrialJobData,
} from "@powersweep/queue";
import type { PowersweepConfig } from "@powersweep/runtime";
import type { TrialConfig } from "@powersweep/spec";
import { InvalidConfigError, type TrialProgress, type TrialResult } from "@powersweep/trainer";
import { DelayedError, type Job, UnrecoverableError, WaitingError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { workerSlots } from "./args.ts";
import { afterFinalResult, type BranchContext, branchesRoot, branchTrainOptions, removeInStore } from "./branches.ts";
import { type ActiveTrial, startHeartbeat } from "./lease.ts";
import { createMetricsBuffer } from "./metrics.ts";
import { createPersist, errorText, sleep } from "./persist.ts";
import { createSlotPool } from "./slots.ts";
import { createTrainerCache } from "./trainers.ts";

export { parseWorkerArgs, type WorkerArgs, workerSlots } from "./args.ts";

export const WORKER_VERSION = "0.1.0";

export interface WorkerOptions {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  /** Root of per-trial checkpoint directories (<checkpointDir>/<trialId>). */
  checkpointDir: string;
  /** GPU ids: slotsPerDevice slots per device, each pinned with CUDA_VISIBLE_DEVICES for exec trainers. */
  devices?: string[];
  /** Trials each device runs at once, each in its own trainer (exec trainers: its own process). Default 1. */
  slotsPerDevice?: number;
  /** CPU slots when no devices are given (default 1). */
  concurrency?: number;
  /** Extra exec trainers: name → argv. */
  execTrainers?: Record<string, string[]>;
  /** Default: <host>:<pid>:<random>. */
  workerId?: string;
  /** Heartbeat period (default 2000 ms): the worker row and the leases of its running trials. */
  heartbeatMs?: number;
  /**
   * Lease of a running trial (default 60 s), renewed by each heartbeat: a trial whose worker died
   * runs again about this long after its last heartbeat.
   */
  leaseSeconds?: number;
  /** BullMQ lock duration: a SIGKILLed worker's job goes back to wait after about this long (default 30 s). */
  lockDurationMs?: number;
  /** BullMQ stalled-job check period (default 30 s). */
  stalledIntervalMs?: number;
  /** Times a job may stall (worker died) before it fails (default 3). */
  maxStalledCount?: number;
  /** Checkpoint every N training tokens (default 0: only on abort). */
  checkpointEveryTokens?: number;
  /** Wall-clock limit of one trial attempt in seconds (TRIAL_MAX_SECONDS): past it the trial is stopped and failed. */
  trialMaxSeconds?: number;
  /** Progress points are buffered and written every metricsFlushMs or metricsFlushPoints points. */
  metricsFlushMs?: number;
  metricsFlushPoints?: number;
  /** Minimum ms between two trainer progress reports (default 1000). */
  progressIntervalMs?: number;
  /** close() waits this long for running trials to checkpoint and release (default 30 s). */
  shutdownTimeoutMs?: number;
  /** Debounce for refit requests (default 2000 ms). */
  fitDebounceMs?: number;
  /**
   * The most jobs BullMQ may hold beyond the slots (default: four per slot): the next trials are
   * fetched while the previous ones run and commit. The pool holds as many as its slots start
   * within a quarter second at the recent trial duration, at least one (slots.ts). Jobs that only
   * finish (result commit, acknowledgement) come on top and hold no slot. Never more than one
   * trainer per slot.
   */
  prefetch?: number;
  /** Postgres pool size (default slots + 1). */
  dbPoolSize?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Worker options from the process configuration (loadConfig) and the command line's slots and trainers. */
export function workerOptions(
  config: PowersweepConfig,
  slots: Pick<WorkerOptions, "devices" | "slotsPerDevice" | "concurrency" | "execTrainers"> = {},
): WorkerOptions {
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  return {
    databaseUrl: config.databaseUrl,
    redisUrl: config.redisUrl,
    redisPrefix: config.redisPrefix,
    checkpointDir: config.checkpointDir,
    checkpointEveryTokens: config.checkpointEveryTokens,
    leaseSeconds: config.trialLeaseSeconds,
    trialMaxSeconds: config.trialMaxSeconds,
    ...defined(config.worker),
    ...defined(slots),
  };
}

export interface RunningWorker {
  id: string;
  /** Graceful stop: running trials are checkpointed and released back to the queue. */
  close(): Promise<void>;
}

/** A job of a sweep still being accepted comes back after this long. */
const CREATING_RETRY_MS = 2000;

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const log =
    options.log ?? ((msg, fields) => console.error(JSON.stringify({ t: new Date().toISOString(), msg, ...fields })));
  const slots = workerSlots(options);
  const id = options.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  const heartbeatMs = options.heartbeatMs ?? 2000;
  const flushMs = options.metricsFlushMs ?? 2000;
  const flushPoints = options.metricsFlushPoints ?? 200;
  const fitDebounceMs = options.fitDebounceMs ?? 2000;
  const leaseSeconds = options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;

  // Prisma for the fleet rows; plain pg pools for the per-trial hot path (results.ts takes either).
  const db: Db = createDb({ url: options.databaseUrl, max: 2 });
  // plan_cache_mode = force_generic_plan on both hot-path pools: the claim and result statements
  // take arrays, for which Postgres would otherwise re-plan every execution (custom plans, ~0.2-0.4
  // ms of server CPU each); their plans are primary-key probes by construction (results.ts), so the
  // generic plan is the right one whatever the parameters.
  const sql = createSqlPool({
    url: options.databaseUrl,
    max: options.dbPoolSize ?? slots.length + 1,
    genericPlans: true,
  });
  // Claims only (markRunning): synchronous_commit = off, so a claim does not wait for its WAL
  // flush. Safe because a claim can be redone: the result's commit (synchronous, on `sql`) flushes
  // the WAL up to itself, so a durable result implies a durable claim. If Postgres crashes and drops
  // an unflushed claim, the result finds the trial queued and records nothing; the sweeper gives
  // the queued trial a job again.
  const claimSql = createSqlPool({
    url: options.databaseUrl,
    max: slots.length,
    asyncCommit: true,
    genericPlans: true,
  });
  // Claims and results: one group commit (the claims and results of concurrent slots share one
  // statement and one round trip; results also one WAL flush). A result and a claim that are ready
  // together (one trial ends, the next takes its slot) go in one statement on `sql`, durable.
  const writer = createTrialWriter({ claimDb: claimSql, resultDb: sql, workerId: id, leaseSeconds });
  for (const p of [sql, claimSql]) p.on("error", (e) => log("postgres pool error", { error: errorText(e) }));
  const connection = createRedis({ url: options.redisUrl, forWorker: true });
  const queueConnection = createRedis({ url: options.redisUrl });
  for (const c of [connection, queueConnection]) c.on("error", (e) => log("redis error", { error: errorText(e) }));
  const fitQueue: FitQueue = createFitQueue(queueConnection, options.redisPrefix);
  const trialQueue = createTrialQueue(queueConnection, options.redisPrefix);
  const branchCtx: BranchContext = { sql, trialQueue, store: options.checkpointDir, log };

  let closing = false;
  const persist = createPersist(log);

  await persist(
    "registerWorker",
    () =>
      registerWorker(db, {
        id,
        host: hostname(),
        pid: process.pid,
        devices: slots.map((s) => s.name),
        // What users may name in a sweep; the benchmark-only "sleep" trainer runs but is not advertised.
        backend: ["tfjs", "torch", ...Object.keys(options.execTrainers ?? {})].join(","),
        version: WORKER_VERSION,
      }),
    20,
  );

  // The slot pool (slots.ts): at most one trainer per slot; it also sets the BullMQ concurrency
  // (slots + prefetch + jobs that only finish their result commit and acknowledgement).
  let bullWorker: Worker<TrialJobData> | null = null;
  const pool = createSlotPool({
    slots: slots.length,
    maxPrefetch: Math.max(0, options.prefetch ?? 4 * slots.length),
    onConcurrency: (c) => {
      if (bullWorker) bullWorker.concurrency = c;
    },
  });
  const getTrainer = createTrainerCache(slots, options.execTrainers);
  const active = new Map<string, ActiveTrial>();
  const lastFitRequest = new Map<string, number>();

  async function afterResult(sweepId: string, checkSweep: boolean) {
    if (checkSweep && (await persist("completeSweepIfDone", () => completeSweepIfDone(sql, sweepId))))
      await removeInStore(options.checkpointDir, branchesRoot(options.checkpointDir, sweepId)).catch(() => {});
    // The fit queue dedupes per sweep; skipping a request inside half the debounce window is safe
    // because the pending (delayed) fit reads Postgres when it runs.
    const now = Date.now();
    if (now - (lastFitRequest.get(sweepId) ?? 0) < fitDebounceMs / 2) return;
    lastFitRequest.set(sweepId, now);
    await requestFit(fitQueue, sweepId, fitDebounceMs).catch((e) =>
      log("refit request failed", { sweepId, error: errorText(e) }),
    );
  }

  async function processTrial(job: Job<TrialJobData>, token?: string): Promise<unknown> {
    // The job id is the trial id (packages/queue). A job whose hash was deleted (Redis keys lost)
    // while its id was still listed comes back from BullMQ with empty data and a re-created
    // hash, so the reconciler would not re-enqueue it: it must still run its trial.
    const trialId = job.data?.trialId ?? job.id;
    if (!trialId) throw new UnrecoverableError("trial job without an id");
    let lease = closing ? null : await pool.acquire();
    if (lease !== null && closing) {
      lease.settle(); // shutting down: give the job back unclaimed
      lease = null;
    }
    if (lease === null) {
      // No slot within the wait (the pool stops prefetching until one frees), or shutting down.
      if (token) {
        await job
          .moveToWait(token)
          .catch((e) => log("moveToWait failed (the stalled check will recover it)", { trialId, error: errorText(e) }));
        throw new WaitingError();
      }
      throw new Error("no free slot");
    }
    try {
      const claimed = await persist(
        "markRunning",
        () => writer.claim(trialId, { checkpointPath: join(options.checkpointDir, trialId) }),
        30,
      );
      if (!claimed) {
        // A sweep still being accepted: come back later. Anything else (running elsewhere,
        // finished, cancelled, gone): nothing to do.
        if (token && (await claimBlocker(sql, trialId).catch(() => "skip")) === "wait") {
          await job.moveToDelayed(Date.now() + CREATING_RETRY_MS, token);
          throw new DelayedError();
        }
        return { skipped: true };
      }
      return await runClaimed(job, token, claimed, lease.slot, () => lease.release());
    } finally {
      lease.settle();
    }
  }

  async function runClaimed(
    job: Job<TrialJobData>,
    token: string | undefined,
    claimed: ClaimedTrial,
    slot: number,
    releaseSlot: () => void,
  ): Promise<unknown> {
    const { id: trialId, sweepId, attempt } = claimed;
    const checkpointPath = claimed.checkpointPath ?? join(options.checkpointDir, trialId);
    const controller = new AbortController();
    const entry: ActiveTrial = { trialId, sweepId, attempt, controller, tokensPerSecond: 0 };
    active.set(trialId, entry);
    if (closing) controller.abort("shutdown");
    const metricsBuffer = createMetricsBuffer({ sql, trialId, attempt, flushMs, flushPoints, log });
    // The wall-clock limit (the sweep's, at most the deployment's): a stuck trial is stopped (an
    // exec trainer with its process group).
    const cap = options.trialMaxSeconds ?? 0;
    const own = await sweepTrialMaxSeconds(sql, sweepId).catch(() => null);
    const limitSeconds = own !== null && (cap <= 0 || own < cap) ? own : cap;
    const limit =
      limitSeconds > 0
        ? setTimeout(() => controller.abort("timeout"), Math.min(limitSeconds * 1000, 2 ** 31 - 1))
        : null;
    const onProgress = (p: TrialProgress) => {
      entry.tokensPerSecond = p.tokensPerSecond;
      metricsBuffer.push(p);
    };
    let result: TrialResult | null = null;
    let thrown: unknown = null;
    try {
      const trainer = await getTrainer(claimed.trainer, slot);
      // Without them (Postgres hiccup) the trial still runs; its waiting branches then train from scratch.
      const branching = await branchTrainOptions(branchCtx, claimed).catch((e) => {
        log("trunk branches not read; training without them", { trialId, error: errorText(e) });
        return {};
      });
      result = await trainer.runTrial(claimed.config as TrialConfig, {
        ...branching,
        onProgress,
        signal: controller.signal,
        checkpointDir: checkpointPath,
        checkpointEveryTokens: options.checkpointEveryTokens ?? 0,
        progressIntervalMs: options.progressIntervalMs ?? 1000,
      });
    } catch (e) {
      thrown = e;
    } finally {
      if (limit) clearTimeout(limit);
      active.delete(trialId);
      releaseSlot(); // the trainer is done with the device; the result is written off-slot
    }
    const metrics = await metricsBuffer.close();
    const reason = controller.signal.aborted ? String(controller.signal.reason) : null;

    const finish = async (record: TrialResultRecord) => {
      // The dense curve (docs/trial-curves.md) before the result, so a finished trial has it; best effort.
      const curve = (result as TrialResult | null)?.curve;
      if (curve && record.status !== "cancelled")
        await persist("recordCurve", () => recordCurve(sql, trialId, attempt, curve), 5).catch(() => {});
      const { recorded, checkSweep } = await persist("recordResult", () =>
        writer.record(trialId, attempt, { ...record, checkpointPath, metrics }),
      );
      if (!recorded)
        log("result already recorded or trial not running; nothing changed", {
          trialId,
          attempt,
          status: record.status,
        });
      else await afterFinalResult(branchCtx, claimed);
      await afterResult(sweepId, checkSweep);
    };

    if (reason === "lost" && (thrown || result?.status === "aborted")) {
      // Cancelled, or taken back after the lease expired: the record is no longer this worker's.
      return { status: "lost" };
    }
    if (reason === "shutdown" && (thrown || result?.status === "aborted")) {
      // Back to queued and the job back to wait: no attempt consumed; the next run resumes.
      if (metrics.length)
        await persist("recordMetrics", () => recordMetrics(sql, trialId, attempt, metrics), 5).catch(() => {});
      await persist("releaseTrial", () =>
        releaseTrial(sql, trialId, attempt, { checkpointPath, error: "worker shut down", errorClass: "shutdown" }),
      );
      if (token) {
        await job
          .moveToWait(token)
          .catch((e) => log("moveToWait failed (reconciler will re-enqueue)", { trialId, error: errorText(e) }));
        throw new WaitingError();
      }
      return { status: "released" };
    }
    if (reason === "timeout" && (thrown || result?.status === "aborted")) {
      // another attempt would run past the same limit: failed, not retried
      const message = `ran past the wall-clock limit of ${limitSeconds} s (${own !== null && limitSeconds === own ? "the sweep's trialMaxSeconds" : "TRIAL_MAX_SECONDS"}); stopped`;
      await finish({ status: "failed", error: message, errorClass: "timeout", tokensSeen: result?.tokensSeen ?? null });
      throw new UnrecoverableError(message);
    }
    if (thrown instanceof InvalidConfigError || (thrown as Error | null)?.name === "InvalidConfigError") {
      await finish({ status: "failed", error: errorText(thrown), errorClass: "invalid-config" });
      throw new UnrecoverableError(`invalid config: ${errorText(thrown)}`);
    }
    if (thrown || !result || result.status === "aborted") {
      const message = thrown ? errorText(thrown) : "trainer stopped without a result";
      const last = !mayRetry(attempt, claimed.maxAttempts);
      log("trial crashed", { trialId, attempt, last, error: message });
      if (last) {
        await finish({ status: "failed", error: message, errorClass: "crash" });
        throw thrown instanceof Error ? thrown : new Error(message);
      }
      // Back to queued; the same job runs the next attempt after the backoff.
      if (metrics.length)
        await persist("recordMetrics", () => recordMetrics(sql, trialId, attempt, metrics), 5).catch(() => {});
      await persist("releaseTrial", () =>
        releaseTrial(sql, trialId, attempt, { checkpointPath, error: message, errorClass: "crash" }),
      );
      if (token) {
        await job
          .moveToDelayed(Date.now() + retryDelayMs(attempt), token)
          .catch((e) => log("moveToDelayed failed (the sweeper will re-enqueue)", { trialId, error: errorText(e) }));
        throw new DelayedError();
      }
      return { status: "released" };
    }
    await finish({
      status: result.status === "diverged" ? "diverged" : "succeeded",
      trainLoss: result.trainLoss,
      testLoss: result.testLoss,
      testPerplexity: result.testPerplexity,
      tokensSeen: result.tokensSeen,
      wallSeconds: result.wallSeconds,
      tokensPerSecond: result.tokensPerSecond,
      error: result.status === "diverged" ? (result.reason ?? "diverged") : null,
      errorClass: result.status === "diverged" ? "diverged" : null,
    });
    return { status: result.status };
  }

  const worker = new Worker<TrialJobData>(QUEUE_TRIALS, processTrial, {
    connection,
    prefix: options.redisPrefix,
    concurrency: pool.concurrency,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 3,
    autorun: true,
  });
  bullWorker = worker;
  worker.concurrency = pool.concurrency;
  worker.on("error", (e) => log("worker error", { error: errorText(e) }));

  const hb = startHeartbeat({ db, sql, workerId: id, active, heartbeatMs, leaseSeconds, log });
  log("worker started", { workerId: id, slots: slots.map((s) => s.name), prefix: options.redisPrefix });

  let closed: Promise<void> | null = null;
  return {
    id,
    close() {
      closed ??= (async () => {
        closing = true;
        await hb.stop();
        await hb.beat("stopping");
        for (const a of active.values()) a.controller.abort("shutdown");
        const done = worker.close();
        const timeoutMs = options.shutdownTimeoutMs ?? 30_000;
        const timedOut = await Promise.race([done.then(() => false), sleep(timeoutMs).then(() => true)]);
        if (timedOut) {
          log("shutdown timeout: closing with trials still running (their jobs will stall and be retried)", {
            running: active.size,
          });
          await worker.close(true).catch(() => {});
        }
        await hb.beat("stopped");
        await Promise.all([fitQueue.close(), trialQueue.close()]).catch(() => {});
        await Promise.all([connection, queueConnection].map((c: Redis) => c.quit().catch(() => c.disconnect())));
        await db.$disconnect();
        await Promise.all([sql.end(), claimSql.end()]);
        log("worker stopped", { workerId: id });
      })();
      return closed;
    },
  };
}
