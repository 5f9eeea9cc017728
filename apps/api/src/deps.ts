// What the API needs from the outside world; route plugins read it from `app.deps`.
import type { Db } from "@powersweep/db";
import type { SqlPool, SweepDeps } from "@powersweep/orchestrator";
import type { FitQueue, TrialQueue } from "@powersweep/queue";
import type { PowersweepConfig } from "@powersweep/runtime";
import type { FastifyServerOptions } from "fastify";
import type { Redis } from "ioredis";

export interface ApiDeps {
  db: Db;
  /** Connection for queues, pub/sub publishes and readiness checks. */
  redis: Redis;
  trialQueue: TrialQueue;
  fitQueue?: FitQueue;
  /**
   * Plain pg pool for the bulk inserts of sweep accepts; its size is how many chunks are inserted
   * in parallel. Default: buildServer opens one (ACCEPT_SQL_CONNECTIONS, asynchronous commits) and
   * closes it with the server.
   */
  sql?: SqlPool;
  /**
   * Plain pg pool for the hot reads (GET /v1/sweeps/:id): a Prisma raw query costs about ten times
   * the CPU of a prepared statement on a plain pool, and these reads are polled (dashboard, CLI
   * watch). Default: buildServer opens one (READ_SQL_CONNECTIONS) and closes it with the server.
   */
  reads?: SqlPool;
  config: PowersweepConfig;
  logger?: FastifyServerOptions["logger"];
  /** Bearer-token auth (default on; POWERSWEEP_AUTH=off turns it off for local single-user use). */
  auth?: boolean;
  /** Largest request body in bytes (default 10 MiB). */
  bodyLimit?: number;
  /**
   * Validate every response against its route's schema and fail it (500) when it does not match,
   * e.g. a field the schema does not declare. The tests turn it on; production leaves it off.
   */
  strictResponses?: boolean;
}

export function sweepDeps(d: ApiDeps): SweepDeps {
  return {
    db: d.db,
    trialQueue: d.trialQueue,
    maxTrialsPerSweep: d.config.maxTrialsPerSweep,
    ...(d.sql ? { sql: d.sql } : {}),
  };
}

declare module "fastify" {
  interface FastifyInstance {
    deps: ApiDeps;
  }
  interface FastifyContextConfig {
    /** Token scope a route needs (default: read for GET, submit otherwise). */
    scope?: "read" | "submit" | "admin";
  }
  interface FastifyRequest {
    token?: { id: string; name: string; scopes: string[] };
  }
}
