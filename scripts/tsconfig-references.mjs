#!/usr/bin/env node
// Writes the TypeScript project references from what the code imports, so that `tsc -b` builds the
// workspaces in dependency order without anyone listing them by hand:
// - each workspace's tsconfig.json references the workspaces its src/ imports (@powersweep/<name>);
// - tsconfig.test.json (every test/ folder and bench/, type-checked, not emitted) references all;
// - tsconfig.build.json references every workspace (npm run build), tsconfig.json that and the tests
//   (npm run typecheck is `tsc -b`).
// `node scripts/tsconfig-references.mjs --check` writes nothing and exits 1 when a file is stale
// (test/toolchain.test.ts runs it).
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");

/** Workspace folder (apps/api) → package name (@powersweep/api), for every workspace with a tsconfig. */
function workspaces() {
  const found = new Map();
  for (const group of ["packages", "apps"]) {
    for (const name of readdirSync(join(root, group)).sort()) {
      const dir = `${group}/${name}`;
      if (!existsSync(join(root, dir, "package.json")) || !existsSync(join(root, dir, "src"))) continue;
      found.set(JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")).name, dir);
    }
  }
  return found;
}

function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "generated" && entry.name !== "node_modules") out.push(...sourceFiles(path));
    } else if (/\.(ts|mts|tsx)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** The workspaces a folder's sources import, by package name. */
function imported(dir, names) {
  const deps = new Set();
  const pattern = /(?:from|import)\s*\(?\s*["'](@powersweep\/[a-z0-9-]+)/g;
  for (const file of sourceFiles(dir)) {
    for (const m of readFileSync(file, "utf8").matchAll(pattern)) if (names.has(m[1])) deps.add(m[1]);
  }
  return deps;
}

const ws = workspaces();
const files = new Map();
const json = (value) => `${JSON.stringify(value, null, 2)}\n`;

for (const [name, dir] of ws) {
  const deps = [...imported(join(root, dir, "src"), ws)].filter((d) => d !== name).sort();
  const own = join(root, dir, "tsconfig.json");
  const current = existsSync(own) ? JSON.parse(readFileSync(own, "utf8")) : {};
  files.set(
    own,
    json({
      extends: "../../tsconfig.base.json",
      // A workspace may keep its own options (apps/web emits only declarations: esbuild bundles it).
      compilerOptions: {
        ...current.compilerOptions,
        rootDir: "src",
        outDir: current.compilerOptions?.outDir ?? "dist",
      },
      include: ["src"],
      references: deps.map((d) => ({ path: relative(join(root, dir), join(root, ws.get(d))) })),
    }),
  );
}

const all = [...ws.values()];
files.set(
  join(root, "tsconfig.test.json"),
  json({
    extends: "./tsconfig.base.json",
    compilerOptions: {
      // Not emitted, so nothing to rewrite (and tests import other projects' sources by path).
      noEmit: true,
      rewriteRelativeImportExtensions: false,
      tsBuildInfoFile: "node_modules/.cache/tsc/tests.tsbuildinfo",
    },
    include: ["apps/*/test", "packages/*/test", "test", "bench", "studies", "vitest.config.ts"],
    references: all.map((dir) => ({ path: dir })),
  }),
);
// `tsc -b tsconfig.build.json` (npm run build): every workspace's src/ into its dist/.
files.set(join(root, "tsconfig.build.json"), json({ files: [], references: all.map((dir) => ({ path: dir })) }));
// `tsc -b` (npm run typecheck): the build and the tests.
files.set(
  join(root, "tsconfig.json"),
  json({ files: [], references: [{ path: "tsconfig.build.json" }, { path: "tsconfig.test.json" }] }),
);

let stale = 0;
for (const [path, text] of files) {
  // Compared as data: Biome may lay the JSON out differently.
  const before = existsSync(path) ? readFileSync(path, "utf8") : "";
  if (before && JSON.stringify(JSON.parse(before)) === JSON.stringify(JSON.parse(text))) continue;
  stale++;
  if (check) console.error(`${relative(root, path)} is out of date: run node scripts/tsconfig-references.mjs`);
  else writeFileSync(path, text);
}
if (check && stale) process.exit(1);
if (!check) console.log(stale ? `wrote ${stale} tsconfig file(s)` : "tsconfig files are up to date");
