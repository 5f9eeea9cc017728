// An ad-hoc fit (POST /v1/fits) as a pure function of the request body's text: parse, bound,
// validate, fit. It runs in a worker thread (pool.ts), so none of it blocks the API's event loop.
import { type FitRow, fitSweep, type SweepFit } from "@powersweep/fit";
import { FitsBodySchema } from "@powersweep/spec/api";
import { Value } from "@sinclair/typebox/value";

/** What the API answers: the fit, or a problem (status, slug, detail, field errors). */
export type FitJobResult =
  | { ok: true; fit: SweepFit }
  | {
      ok: false;
      status: number;
      slug: string;
      title: string;
      detail: string;
      errors?: Array<{ path: string; message: string }>;
    };

export function runFitJob(text: string, maxRows: number): FitJobResult {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return { ok: false, status: 400, slug: "invalid-json", title: "Invalid JSON", detail: (err as Error).message };
  }
  const rows = (body as { rows?: unknown } | null)?.rows;
  if (Array.isArray(rows) && rows.length > maxRows) {
    return {
      ok: false,
      status: 413,
      slug: "too-many-rows",
      title: "Too many rows",
      detail: `an ad-hoc fit takes at most ${maxRows} rows, got ${rows.length}; submit them as an import sweep (fitted by the fitter) instead`,
      errors: [{ path: "/body/rows", message: `at most ${maxRows} rows` }],
    };
  }
  const errors = [...Value.Errors(FitsBodySchema, body)]
    .slice(0, 20)
    .map((e) => ({ path: `/body${e.path}`, message: e.message }));
  if (errors.length)
    return {
      ok: false,
      status: 400,
      slug: "invalid-rows",
      title: "Invalid rows",
      detail: `${errors[0]!.path}: ${errors[0]!.message}`,
      errors,
    };
  const { options } = body as { rows: FitRow[]; options?: Record<string, unknown> };
  return { ok: true, fit: fitSweep(rows as FitRow[], options ?? {}) };
}
