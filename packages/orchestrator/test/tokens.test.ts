import { createDb } from "@powersweep/db";
import { afterAll, expect, test } from "vitest";
import { freshDatabaseUrl, testConfig } from "../../../test/env.ts";
import {
  bootstrapAdminToken,
  checkApiToken,
  createApiToken,
  hashToken,
  hasScope,
  listApiTokens,
  revokeApiToken,
  revokeApiTokenById,
  verifyApiToken,
} from "../src/index.ts";

const db = createDb({ url: testConfig().databaseUrl, max: 2 });
afterAll(() => db.$disconnect());

test("scopes are ordered read < submit < admin", () => {
  expect(hasScope(["read"], "read")).toBe(true);
  expect(hasScope(["read"], "submit")).toBe(false);
  expect(hasScope(["submit"], "read")).toBe(true);
  expect(hasScope(["submit"], "admin")).toBe(false);
  expect(hasScope(["admin"], "submit")).toBe(true);
  expect(hasScope(["bogus"], "read")).toBe(false);
});

test("a token is shown once, stored as its sha256, verifiable until revoked", async () => {
  const name = `tok-${Math.random().toString(36).slice(2)}`;
  const created = await createApiToken(db, { name, scopes: ["submit"] });
  const row = await db.apiToken.findUniqueOrThrow({ where: { name } });
  expect(row.secretHash).toBe(hashToken(created.token));
  expect(row.secretHash).not.toContain(created.token);
  expect((await verifyApiToken(db, created.token))?.name).toBe(name);
  expect(await verifyApiToken(db, `${created.token}x`)).toBeNull();
  const listed = (await listApiTokens(db)).find((t) => t.name === name);
  expect(listed).toMatchObject({ name, scopes: ["submit"], revokedAt: null });
  expect(listed).not.toHaveProperty("token");
  expect(listed).not.toHaveProperty("secretHash");
  expect(await revokeApiToken(db, name)).toBe(true);
  expect(await revokeApiToken(db, name)).toBe(false);
  expect(await verifyApiToken(db, created.token)).toBeNull();
  await expect(createApiToken(db, { name: `${name}-2`, scopes: ["root"] })).rejects.toThrow(/scopes/);
  await expect(createApiToken(db, { name, scopes: ["read"] })).rejects.toThrow();
});

test("checkApiToken tells an unknown secret from a revoked one, and revocation by id holds at once", async () => {
  const name = `chk-${Math.random().toString(36).slice(2)}`;
  const created = await createApiToken(db, { name, scopes: ["read"] });
  expect(await checkApiToken(db, created.token)).toEqual({
    ok: true,
    token: { id: created.id, name, scopes: ["read"] },
  });
  expect(await checkApiToken(db, `${created.token}x`)).toEqual({ ok: false, reason: "unknown" });
  expect((await revokeApiTokenById(db, created.id))?.revokedAt).toBeInstanceOf(Date);
  expect(await revokeApiTokenById(db, created.id)).toBeNull();
  expect(await checkApiToken(db, created.token)).toEqual({ ok: false, reason: "revoked" });
});

test("the first admin token is made once, on a database without tokens", async () => {
  const url = await freshDatabaseUrl("bootstrap");
  const fresh = createDb({ url, max: 2 });
  try {
    const [a, b] = await Promise.all([bootstrapAdminToken(fresh), bootstrapAdminToken(fresh)]);
    const made = [a, b].filter((t) => t !== null);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ name: "admin", scopes: ["admin"] });
    expect((await checkApiToken(fresh, made[0]!.token)).ok).toBe(true);
    expect(await bootstrapAdminToken(fresh)).toBeNull();
    await revokeApiToken(fresh, "admin");
    expect(await bootstrapAdminToken(fresh)).toBeNull();
  } finally {
    await fresh.$disconnect();
  }
});
