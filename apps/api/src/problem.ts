// RFC 9457 problem+json: every error the API answers, with field paths where a field is at fault.

import { ConflictError, NotFoundError, SweepTooLargeError } from "@powersweep/orchestrator";
import type { DocumentError } from "@powersweep/spec";
import { ExtendError } from "@powersweep/sweep";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: DocumentError[];
  [extra: string]: unknown;
}

export class ProblemError extends Error {
  constructor(public readonly problem: Problem) {
    super(problem.detail);
  }
}

const TYPE_BASE = "https://powersweep.dev/problems/";

export function problem(
  status: number,
  slug: string,
  title: string,
  detail: string,
  extra: Partial<Problem> = {},
): ProblemError {
  return new ProblemError({ type: TYPE_BASE + slug, title, status, detail, ...extra });
}

export function invalidDocument(errors: DocumentError[]): ProblemError {
  const first = errors[0];
  return problem(
    400,
    "invalid-document",
    "Invalid sweep document",
    first ? `${first.path || "/"}: ${first.message}` : "invalid document",
    {
      errors,
    },
  );
}

export function sendProblem(reply: FastifyReply, p: Problem) {
  return reply.code(p.status).type("application/problem+json").send(p);
}

/** Seconds a client should wait before retrying when a dependency is down. */
export const RETRY_AFTER_SECONDS = 5;

const PRISMA_UNREACHABLE = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
const NET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "EAI_AGAIN",
]);
const PG_UNAVAILABLE = /^(08|57P0|53)/; // connection exceptions, admin/crash shutdown, insufficient resources

/** A dependency that is down, refused with 503 and Retry-After. */
export class DependencyDownError extends Error {
  constructor(
    readonly dependency: "postgres" | "redis",
    detail: string,
  ) {
    super(detail);
  }
}

function portOf(url: string, fallback: number): number {
  try {
    return Number(new URL(url).port || fallback);
  } catch {
    return fallback;
  }
}

/**
 * The dependency an error says is unreachable, or null: Prisma's connection errors, node-postgres
 * and ioredis socket errors (told apart by the port they name), Postgres connection SQLSTATEs.
 */
export function downDependency(err: unknown, urls: { redisUrl: string }): "postgres" | "redis" | null {
  const redisPort = portOf(urls.redisUrl, 6379);
  for (let e = err as Record<string, unknown> | undefined, depth = 0; e && depth < 6; depth++) {
    if (e instanceof DependencyDownError) return e.dependency;
    const code = typeof e.code === "string" ? e.code : "";
    const name = typeof e.name === "string" ? e.name : "";
    const message = typeof e.message === "string" ? e.message : "";
    if (PRISMA_UNREACHABLE.has(code) || name === "PrismaClientInitializationError") return "postgres";
    if (/^Prisma/.test(name) && /Can't reach database server|connection|closed the connection/i.test(message))
      return "postgres";
    if (name === "MaxRetriesPerRequestError" || /Connection is closed|Stream isn't writeable/.test(message))
      return "redis";
    if (NET_CODES.has(code)) {
      const port = Number(e.port);
      if (port === redisPort) return "redis";
      return "postgres";
    }
    if (/^[0-9A-Z]{5}$/.test(code) && PG_UNAVAILABLE.test(code)) return "postgres";
    if (/Connection terminated|timeout exceeded when trying to connect/.test(message)) return "postgres";
    e = (e.cause ?? (e.meta as Record<string, unknown> | undefined)?.driverAdapterError) as
      | Record<string, unknown>
      | undefined;
  }
  return null;
}

/** Maps any thrown error to problem+json. */
export function errorHandler(
  err: FastifyError & {
    validation?: Array<{ instancePath: string; message?: string; params?: Record<string, unknown> }>;
    validationContext?: string;
  },
  req: FastifyRequest,
  reply: FastifyReply,
) {
  if (err instanceof ProblemError) return sendProblem(reply, err.problem);
  if (err instanceof SweepTooLargeError) {
    return sendProblem(reply, {
      type: `${TYPE_BASE}too-many-trials`,
      title: "Sweep too large",
      status: 422,
      detail: err.message,
      trials: err.size.trials,
      axes: err.size.axes,
      cap: err.cap,
    });
  }
  // A missing or conflicting resource is the fault of the id the route was given.
  const idErrors = (message: string) =>
    (req.params as { id?: unknown } | undefined)?.id !== undefined ? { errors: [{ path: "/params/id", message }] } : {};
  if (err instanceof NotFoundError)
    return sendProblem(reply, {
      type: `${TYPE_BASE}not-found`,
      title: "Not found",
      status: 404,
      detail: err.message,
      ...idErrors(err.message),
    });
  if (err instanceof ConflictError)
    return sendProblem(reply, {
      type: `${TYPE_BASE}conflict`,
      title: "Conflict",
      status: 409,
      detail: err.message,
      ...idErrors(err.message),
    });
  if (err instanceof ExtendError)
    return sendProblem(reply, invalidDocument([{ path: err.path, message: err.message }]).problem);
  if (err.validation) {
    const where = err.validationContext ?? "request";
    const errors = err.validation.map((v) => {
      const extra = v.params?.additionalProperty ?? v.params?.missingProperty;
      return { path: `/${where}${v.instancePath}${extra ? `/${String(extra)}` : ""}`, message: v.message ?? "invalid" };
    });
    return sendProblem(reply, {
      type: `${TYPE_BASE}invalid-request`,
      title: "Invalid request",
      status: 400,
      detail: err.message,
      errors,
    });
  }
  const down = downDependency(err, req.server.deps.config);
  if (down) {
    req.log.warn({ err: { message: err.message, code: err.code } }, `${down} unavailable`);
    reply.header("retry-after", String(RETRY_AFTER_SECONDS));
    return sendProblem(reply, {
      type: `${TYPE_BASE}dependency-unavailable`,
      title: "Service unavailable",
      status: 503,
      detail: `${down === "postgres" ? "PostgreSQL" : "Redis"} is not reachable; retry in ${RETRY_AFTER_SECONDS} s`,
      dependency: down,
    });
  }
  const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
  if (status >= 500) req.log.error({ err }, "request failed");
  const slug =
    status === 415
      ? "unsupported-media-type"
      : status === 413
        ? "body-too-large"
        : status >= 500
          ? "internal"
          : "bad-request";
  const field = status === 415 ? "/headers/content-type" : status === 413 ? "/body" : status < 500 ? "" : null;
  return sendProblem(reply, {
    type: TYPE_BASE + slug,
    title: status >= 500 ? "Internal error" : (err.code ?? "Bad request"),
    status,
    detail: status >= 500 ? "internal error; see the server log" : err.message,
    ...(field !== null ? { errors: [{ path: field, message: err.message }] } : {}),
  });
}
