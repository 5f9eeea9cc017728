// `npm run bench`: runs every benchmark module in bench/ (each exports run(); shared code lives in
// bench/lib/), writes the numbers to bench/results.json, and prints them. BENCHMARKS.md summarises
// them beside their references.
// Run one with `npm run bench -- fit` (names: the file names without .ts).
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, hostname, totalmem } from "node:os";
import { join } from "node:path";

const dir = import.meta.dirname;
const only = process.argv.slice(2);
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_"))
  .map((f) => f.replace(/\.ts$/, ""))
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();

const results: Record<string, unknown> = {};
let failed = 0;
for (const name of names) {
  const started = Date.now();
  console.log(`\n== bench ${name}`);
  try {
    const mod = (await import(join(dir, `${name}.ts`))) as { run: () => Promise<Record<string, unknown>> };
    const r = await mod.run();
    results[name] = { ...r, benchSeconds: (Date.now() - started) / 1000 };
    console.log(JSON.stringify(results[name], null, 2));
  } catch (err) {
    failed++;
    results[name] = { error: (err as Error).stack ?? String(err) };
    console.error(`bench ${name} failed:`, err);
  }
}

const out = {
  date: new Date().toISOString(),
  machine: {
    host: hostname(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  results,
};
const file = join(dir, only.length ? `results-${only.join("-")}.json` : "results.json");
// bench/curves.ts keeps its figures under a top-level `curveModel` of results.json; a full run
// carries them over (its own run of curves.ts has already merged the new ones there).
const previous = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { curveModel?: unknown }) : {};
writeFileSync(
  file,
  `${JSON.stringify(previous.curveModel ? { ...out, curveModel: previous.curveModel } : out, null, 2)}\n`,
);
console.log(`\nwrote ${file}`);
process.exit(failed ? 1 : 0);
