#!/usr/bin/env node
// `npx powersweep` / the installed bin: registers tsx's loader and runs the TypeScript CLI in-process.
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
