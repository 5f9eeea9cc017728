#!/usr/bin/env node
// `npx powersweep` / the installed bin: runs the compiled CLI (dist/, built by `npm run build`, which
// `npm ci` runs). Node loads plain JavaScript, so the CLI starts in a fraction of a second.
import { existsSync } from "node:fs";

const main = new URL("../dist/main.js", import.meta.url);
if (!existsSync(main)) {
  console.error("powersweep is not built: run `npm run build` in the repository (npm ci does it too).");
  process.exit(1);
}
await import(main.href);
