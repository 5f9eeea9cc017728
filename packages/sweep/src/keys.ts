// Trial keys: the canonical JSON of a config and its sha256, so identical trials collapse to one row.
import * as crypto from "node:crypto";

/** JSON with object keys sorted at every level: the normalised form a trial key hashes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** Hex sha256 of a string: the one-shot crypto.hash (Node ≥ 20.12; far less allocation per call) when present. */
export const sha256Hex: (text: string) => string =
  typeof crypto.hash === "function"
    ? (text) => crypto.hash("sha256", text, "hex")
    : (text) => crypto.createHash("sha256").update(text).digest("hex");

/** sha256 of the canonical config: identical trials get identical keys. */
export function trialKey(config: unknown): string {
  return sha256Hex(canonicalJson(config));
}
