// API tokens: a random secret shown once, stored only as its sha256. Scopes are ordered:
// read < submit < admin (admin implies all).
import { createHash, randomBytes } from "node:crypto";
import type { Db } from "@powersweep/db";
import { queryRows, type SqlClient } from "./sql.ts";

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

/** Revokes the active token with this id; the revoked token, or null when there is no active one. */
export async function revokeApiTokenById(db: Db, id: string): Promise<ApiTokenInfo | null> {
  const { count } = await db.apiToken.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
  if (!count) return null;
  return info(await db.apiToken.findUniqueOrThrow({ where: { id } }));
}

/**
 * Creates an admin token named "admin" when the deployment has no token at all (a new database),
 * and returns it; null once any token exists. Concurrent starts race on the unique name, so at
 * most one of them prints a secret.
 */
export async function bootstrapAdminToken(db: Db): Promise<(ApiTokenInfo & { token: string }) | null> {
  if ((await db.apiToken.count()) > 0) return null;
  try {
    return await createApiToken(db, { name: "admin", scopes: ["admin"] });
  } catch (err) {
    if ((err as { code?: string }).code === "P2002") return null;
    throw err;
  }
}

export type TokenCheck =
  | { ok: true; token: { id: string; name: string; scopes: string[] } }
  | { ok: false; reason: "unknown" | "revoked" };

/**
 * What a presented secret is: an active token, a revoked one, or nothing. One indexed read, no
 * cache, so a revocation holds at once on every API process. Marks the token used (at most once a
 * minute, without waiting).
 */
export async function checkApiToken(c: SqlClient, secret: string): Promise<TokenCheck> {
  const rows = await queryRows<{ id: string; name: string; scopes: string[]; revoked: boolean; stale: boolean }>(
    c,
    `SELECT id::text AS id, name, scopes, "revokedAt" IS NOT NULL AS revoked,
            ("lastUsedAt" IS NULL OR "lastUsedAt" < now() - interval '1 minute') AS stale
       FROM "ApiToken" WHERE "secretHash" = $1`,
    [hashToken(secret)],
    "ps_check_token",
  );
  const row = rows[0];
  if (!row) return { ok: false, reason: "unknown" };
  if (row.revoked) return { ok: false, reason: "revoked" };
  if (row.stale) {
    void queryRows(c, `UPDATE "ApiToken" SET "lastUsedAt" = now() WHERE id = $1::uuid RETURNING id`, [row.id]).catch(
      () => {},
    );
  }
  return { ok: true, token: { id: row.id, name: row.name, scopes: row.scopes } };
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
