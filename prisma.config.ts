// Prisma CLI configuration: migrations run through the WASM schema engine over the pg driver
// adapter, so they need no native engine download (see docs/prisma.md).
import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { defineConfig } from "prisma/config";

// Workaround for prisma/orm#27403: the adapter cannot map Postgres `name` (oid 19) and `"char"`
// (oid 18) catalog columns, which the schema engine's introspection reads. Report them as text
// (oid 25) in pg's result parser. This patches the pg module of this CLI process only.
const TEXT_OID = 25;
const addFields = pg.Result.prototype.addFields;
pg.Result.prototype.addFields = function (fields: Array<{ dataTypeID: number }>) {
  for (const f of fields) if (f.dataTypeID === 19 || f.dataTypeID === 18) f.dataTypeID = TEXT_OID;
  return addFields.call(this, fields);
};

function connectionFields(url: string) {
  const u = new URL(url);
  return {
    host: decodeURIComponent(u.hostname) || "127.0.0.1",
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || "postgres"),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, "")) || "postgres",
    idleTimeoutMillis: 200,
    // Let the CLI process exit as soon as its work is done, not after the pool's idle timeout.
    allowExitOnIdle: true,
  };
}

const databaseUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/powersweep";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  // Discrete fields, not a connectionString: otherwise the shadow database collides with the main one.
  adapter: async () => new PrismaPg(connectionFields(databaseUrl)),
});
