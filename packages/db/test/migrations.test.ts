// The migrations are the deployable form of prisma/schema.prisma: applied to an empty database
// they must produce exactly the schema's tables, and they must not drift from the schema.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { migrate } from "@powersweep/runtime";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelName } from "../src/generated/internal/prismaNamespace.ts";

const root = join(import.meta.dirname, "..", "..", "..");
const admin = process.env.TEST_ADMIN_DATABASE_URL!;
const dbName = `powersweep_migtest_${Date.now().toString(36)}`;
const dbUrl = (() => {
  const u = new URL(admin);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

describe("prisma migrations", () => {
  beforeAll(async () => {
    await sql(admin, `CREATE DATABASE "${dbName}"`);
    await migrate(dbUrl);
  });
  afterAll(async () => {
    await sql(admin, `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  });

  it("applies every migration folder to an empty database", async () => {
    const folders = readdirSync(join(root, "prisma", "migrations"), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    const applied = await sql<{ migration_name: string }>(
      dbUrl,
      "select migration_name from _prisma_migrations where finished_at is not null and rolled_back_at is null order by migration_name",
    );
    expect(applied.map((r) => r.migration_name)).toEqual(folders);
  });

  it("creates exactly the schema's tables, with the denormalised trial columns", async () => {
    const tables = await sql<{ table_name: string }>(
      dbUrl,
      "select table_name from information_schema.tables where table_schema = 'public' and table_name <> '_prisma_migrations'",
    );
    expect(tables.map((t) => t.table_name).sort()).toEqual(Object.values(ModelName).sort());
    const cols = await sql<{ column_name: string }>(
      dbUrl,
      "select column_name from information_schema.columns where table_schema = 'public' and table_name = 'Trial'",
    );
    const names = cols.map((c) => c.column_name);
    for (const c of [
      "key",
      "model",
      "tokens",
      "batchSize",
      "lr",
      "powerA",
      "powerB",
      "seed",
      "status",
      "attempts",
      "testLoss",
    ]) {
      expect(names).toContain(c);
    }
  });

  it("indexes the API's queries and keeps trial keys unique per sweep", async () => {
    const idx = await sql<{ indexdef: string }>(dbUrl, "select indexdef from pg_indexes where schemaname = 'public'");
    const defs = idx.map((i) => i.indexdef).join("\n");
    expect(defs).toMatch(/UNIQUE INDEX "Trial_sweepId_key_key" ON public."Trial" USING btree \("sweepId", key\)/);
    expect(defs).toMatch(/"Trial_sweepId_status_idx" ON public."Trial" USING btree \("sweepId", status\)/);
    expect(defs).toMatch(/"TrialMetric_trialId_tokens_idx"/);
  });

  it("has no drift between the migrations and prisma/schema.prisma", () => {
    const res = spawnSync(
      process.execPath,
      [
        join(root, "scripts", "prisma.mjs"),
        "migrate",
        "diff",
        "--from-migrations",
        "prisma/migrations",
        "--to-schema-datamodel",
        "prisma/schema.prisma",
        "--exit-code",
      ],
      { cwd: root, env: { ...process.env, DATABASE_URL: dbUrl }, encoding: "utf8" },
    );
    // --exit-code: 0 = no difference, 2 = the schema has changes without a migration.
    expect(res.status, res.stdout + res.stderr).toBe(0);
  });
});
