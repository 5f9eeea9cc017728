#!/usr/bin/env node
// Runs the Prisma 6 CLI fully offline (see docs/prisma.md for why this combination).
// Prisma's native engines cannot be downloaded here, and we do not need them: the client is the
// Rust-free "prisma-client" generator (driver adapter @prisma/adapter-pg) and migrations go through
// the CLI's WASM schema engine (prisma.config.ts: engine "js"). The CLI still checks that engine
// paths exist, so point them at a placeholder file.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const placeholder = join(tmpdir(), "powersweep-prisma-engine-placeholder");
if (!existsSync(placeholder)) {
  mkdirSync(dirname(placeholder), { recursive: true });
  writeFileSync(placeholder, "");
}
const env = {
  ...process.env,
  // The same default as packages/runtime (README's configuration table); schema.prisma reads it.
  DATABASE_URL: process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/powersweep",
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? placeholder,
  PRISMA_QUERY_ENGINE_LIBRARY: process.env.PRISMA_QUERY_ENGINE_LIBRARY ?? placeholder,
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
  CHECKPOINT_DISABLE: "1",
};
const cli = join(root, "node_modules", "prisma", "build", "index.js");
const preload = join(root, "scripts", "prisma-unref-timers.cjs");
const res = spawnSync(process.execPath, ["--require", preload, cli, ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: "inherit",
});
process.exit(res.status ?? 1);
