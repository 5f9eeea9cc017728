// What a valid document may still not ask of this deployment: values past what the store and the
// trainer hold once range helpers are resolved (a geometric axis can overflow to Infinity or past a
// Postgres int), token budgets past MAX_TOKENS_PER_TRIAL, and trainers no worker offers.

import {
  type DocumentError,
  type ExtendDocument,
  MAX_INT32,
  type NumberAxis,
  type SweepDocument,
} from "@powersweep/spec";
import { axisValues, resolveAxes, seedValues } from "@powersweep/sweep";
import { BUILTIN_TRAINERS } from "@powersweep/trainer";
import type { FastifyInstance } from "fastify";
import { problem } from "./problem.ts";

interface Limits {
  maxTokensPerTrial: number;
}

type Check = (v: number) => string | null;

const tokensCheck =
  ({ maxTokensPerTrial }: Limits): Check =>
  (v) =>
    !Number.isFinite(v) || v <= 0
      ? `must be a finite number > 0, got ${v}`
      : v > maxTokensPerTrial
        ? `${v} tokens is past this deployment's limit of ${maxTokensPerTrial} per trial (MAX_TOKENS_PER_TRIAL)`
        : null;
const intCheck =
  (min: number): Check =>
  (v) =>
    !Number.isInteger(v) || v < min || v > MAX_INT32 ? `must be an integer in [${min}, ${MAX_INT32}], got ${v}` : null;
const positiveCheck: Check = (v) => (!Number.isFinite(v) || v <= 0 ? `must be a finite number > 0, got ${v}` : null);
const powerBCheck: Check = (v) =>
  !Number.isFinite(v) || v < -2 || v >= 0 ? `must be a number in [-2, 0), got ${v}` : null;

function firstBad(path: string, values: number[], check: Check): DocumentError[] {
  for (const v of values) {
    const message = check(v);
    if (message) return [{ path, message }];
  }
  return [];
}

/** Errors of a parsed sweep document against the deployment's limits (pure). */
export function sweepLimitErrors(doc: SweepDocument, limits: Limits): DocumentError[] {
  const tokens = tokensCheck(limits);
  if (doc.kind === "import") {
    const out: DocumentError[] = [];
    doc.rows.forEach((r, i) => {
      const message = tokens(r.tokens);
      if (message && out.length < 20) out.push({ path: `/rows/${i}/tokens`, message });
    });
    return out;
  }
  const a = resolveAxes(doc);
  return [
    ...firstBad("/axes/tokens", a.tokens, tokens),
    ...firstBad("/axes/batchSize", a.batchSize, intCheck(1)),
    ...firstBad("/axes/seeds", a.seeds, intCheck(0)),
    ...firstBad("/axes/lr", a.lr ?? [], positiveCheck),
    ...firstBad("/axes/powerA", a.powerA ?? [], positiveCheck),
    ...firstBad("/axes/powerB", a.powerB ?? [], powerBCheck),
  ];
}

/** Errors of an extend document's new axis values against the deployment's limits (pure). */
export function extendLimitErrors(ext: ExtendDocument, limits: Limits): DocumentError[] {
  const axis = (v: NumberAxis | undefined, integer = false) => (v === undefined ? [] : axisValues(v, { integer }));
  return [
    ...firstBad("/tokens", axis(ext.tokens, true), tokensCheck(limits)),
    ...firstBad("/batchSize", axis(ext.batchSize, true), intCheck(1)),
    ...firstBad("/seeds", ext.seeds === undefined ? [] : seedValues(ext.seeds), intCheck(0)),
    ...firstBad("/lr", axis(ext.lr), positiveCheck),
    ...firstBad("/powerA", axis(ext.powerA), positiveCheck),
    ...firstBad("/powerB", axis(ext.powerB as NumberAxis | undefined), powerBCheck),
  ];
}

/** 422 problem+json; paths are JSON pointers into the document, as for invalid documents. */
function refuse(errors: DocumentError[]) {
  const first = errors[0]!;
  return problem(422, "limit-exceeded", "Past this deployment's limits", `${first.path}: ${first.message}`, {
    errors,
  });
}

/**
 * Trainers a sweep may name: the built-in ones and those a live worker advertises (its Worker
 * row's comma-separated `backend`, heartbeat within WORKER_LOST_AFTER_SECONDS).
 */
export async function knownTrainers(app: FastifyInstance): Promise<Set<string>> {
  const rows = await app.deps.db.$queryRawUnsafe<Array<{ backend: string }>>(
    `SELECT DISTINCT backend FROM "Worker"
     WHERE state <> 'stopped' AND "lastHeartbeatAt" > now() - make_interval(secs => $1)`,
    app.deps.config.workerLostAfterSeconds,
  );
  const names = new Set<string>(BUILTIN_TRAINERS);
  for (const r of rows) for (const n of r.backend.split(",")) if (n.trim()) names.add(n.trim());
  return names;
}

/** Refuses (422, naming the field) a sweep past the limits or naming a trainer nobody offers. */
export async function checkSweepLimits(app: FastifyInstance, doc: SweepDocument): Promise<void> {
  const errors = sweepLimitErrors(doc, app.deps.config);
  if (errors.length) throw refuse(errors);
  if (doc.kind !== "import" && doc.trainer !== undefined) {
    const trainers = await knownTrainers(app);
    if (!trainers.has(doc.trainer)) {
      throw refuse([
        {
          path: "/trainer",
          message: `no worker offers trainer "${doc.trainer}"; offered: ${[...trainers].sort().join(", ")}`,
        },
      ]);
    }
  }
}

export function checkExtendLimits(app: FastifyInstance, ext: ExtendDocument): void {
  const errors = extendLimitErrors(ext, app.deps.config);
  if (errors.length) throw refuse(errors);
}
