// Builds the static dashboard into apps/web/dist (index.html + app.js + app.css). No dev server:
// the API serves this folder at /. Usage: `npm run build -w @powersweep/web` or `node apps/web/build.mjs`.
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));

/** Bundle src/main.ts (with @powersweep/plots) and copy the static files; returns the dist folder. */
export async function build({ outdir = join(here, "dist"), minify = true } = {}) {
  await mkdir(outdir, { recursive: true });
  await esbuild.build({
    entryPoints: [join(here, "src/main.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify,
    // No source map: the dashboard does not publish its sources (build with minify: false to debug).
    sourcemap: false,
    outfile: join(outdir, "app.js"),
    logLevel: "warning",
  });
  await copyFile(join(here, "src/index.html"), join(outdir, "index.html"));
  await copyFile(join(here, "src/app.css"), join(outdir, "app.css"));
  return outdir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await build();
  console.log(`dashboard built into ${out}`);
}
