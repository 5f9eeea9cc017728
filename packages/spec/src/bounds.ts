// Bounds every number and string a client sends must respect, so that what the API accepts the
// store can hold: integers fit a Postgres `int`, text has no NUL (Postgres text refuses it) and no
// lone UTF-16 surrogate (it has no UTF-8 encoding).
import { type StringOptions, Type } from "@sinclair/typebox";

/** Largest integer a Postgres `int` column holds (batchSize, seed, dModel, attempts, offsets). */
export const MAX_INT32 = 2_147_483_647;

/** Text without NUL and without lone surrogates (valid pairs are fine). */
export const SAFE_TEXT_PATTERN = "^(?:[^\\u0000\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])*$";

/** A string schema for names, tags and model names. */
export const SafeText = (opts: StringOptions = {}) => Type.String({ ...opts, pattern: SAFE_TEXT_PATTERN });

/** An integer schema bounded to a Postgres `int`. */
export const Int32 = (opts: { minimum?: number; description?: string } = {}) =>
  Type.Integer({ minimum: opts.minimum ?? 0, maximum: MAX_INT32, ...opts });

/** Most attempts one trial may take (a sweep's maxAttempts is at most this; retries back off, capped). */
export const MAX_TRIAL_ATTEMPTS = 10;

/** A sweep or trial id as typed by a person: a whole uuid, or a prefix of 8 or more of its characters. */
export const ID_PREFIX_PATTERN = "^[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]){0,24}$";

/**
 * The uuids that start with `prefix` ("8d88fb4f", "8d88fb4f-1c"), as the inclusive range
 * [prefix000…, prefixfff…] that a uuid column can be searched with; null for anything else.
 */
export function uuidPrefixRange(prefix: string): [string, string] | null {
  if (!new RegExp(ID_PREFIX_PATTERN).test(prefix)) return null;
  const hex = prefix.toLowerCase().replace(/-/g, "");
  const uuid = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  return [uuid(hex.padEnd(32, "0")), uuid(hex.padEnd(32, "f"))];
}
