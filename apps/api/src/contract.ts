// Route response declarations: each route lists its success responses, and every route also
// answers problem+json for 4xx and 5xx (ProblemSchema), so OpenAPI documents both.
import { ProblemSchema } from "@powersweep/spec/api";
import type { TSchema } from "@sinclair/typebox";

const problemContent = { content: { "application/problem+json": { schema: ProblemSchema } } };

/** A response declared per media type (e.g. JSON and CSV of the same resource). */
export const byMediaType = <T extends Record<string, TSchema>>(types: T) => ({
  content: Object.fromEntries(Object.entries(types).map(([type, schema]) => [type, { schema }])) as {
    [K in keyof T]: { schema: T[K] };
  },
});

/** `success` (e.g. { 200: SweepSchema }) plus problem+json for 4xx and 5xx. */
export function responses<T extends Record<number, unknown>>(success: T) {
  return { ...success, "4xx": problemContent, "5xx": problemContent } as T;
}
