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
  if (err instanceof NotFoundError)
    return sendProblem(reply, { type: `${TYPE_BASE}not-found`, title: "Not found", status: 404, detail: err.message });
  if (err instanceof ConflictError)
    return sendProblem(reply, { type: `${TYPE_BASE}conflict`, title: "Conflict", status: 409, detail: err.message });
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
  return sendProblem(reply, {
    type: TYPE_BASE + slug,
    title: status >= 500 ? "Internal error" : (err.code ?? "Bad request"),
    status,
    detail: status >= 500 ? "internal error; see the server log" : err.message,
  });
}
