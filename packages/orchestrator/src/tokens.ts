// API tokens: a random secret shown once, stored only as its sha256. Scopes are ordered:
// read < submit < admin (admin implies all).
import { createHash, randomBytes } from "node:crypto";
import type { Db } from "@powersweep/db";

export const SCOPES = ["read", "submit", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

/** Whether a token holding `scopes` may do what `needed` requires. */
export function hasScope(scopes: readonly string[], needed: Scope): boolean {
  const rank = SCOPES.indexOf(needed);
  return scopes.some((s) => isScope(s) && SCOPES.indexOf(s) >= rank);
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Creates a token; the returned `token` is the only time the secret is visible. */
export async function createApiToken(
  db: Db,
  { name, scopes }: { name: string; scopes: string[] },
): Promise<ApiTokenInfo & { token: string }> {
  if (!name.trim()) throw new Error("a token needs a name");
  const bad = scopes.filter((s) => !isScope(s));
  if (bad.length || !scopes.length)
    throw new Error(`scopes must be some of ${SCOPES.join(", ")}; got ${scopes.join(", ") || "none"}`);
  const token = `ps_${randomBytes(32).toString("base64url")}`;
  const row = await db.apiToken.create({ data: { name, scopes, secretHash: hashToken(token) } });
  return { token, ...info(row) };
}

function info(row: ApiTokenInfo & { secretHash?: string }): ApiTokenInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}

export async function listApiTokens(db: Db): Promise<ApiTokenInfo[]> {
  const rows = await db.apiToken.findMany({ orderBy: { createdAt: "asc" } });
  return rows.map(info);
}

/** Revokes the active token with this name; false when there is none. */
export async function revokeApiToken(db: Db, name: string): Promise<boolean> {
  const { count } = await db.apiToken.updateMany({ where: { name, revokedAt: null }, data: { revokedAt: new Date() } });
  return count > 0;
}

/** The active token a secret belongs to, or null. Marks it used (at most once a minute). */
export async function verifyApiToken(db: Db, token: string): Promise<ApiTokenInfo | null> {
  const row = await db.apiToken.findUnique({ where: { secretHash: hashToken(token) } });
  if (!row || row.revokedAt) return null;
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    await db.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => {});
  }
  return info(row);
}
