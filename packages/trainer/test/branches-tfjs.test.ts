// Decay branches from a shared trunk, TensorFlow.js trainer (docs/branches.md).
import { describe } from "vitest";
import { createTfjsTrainer } from "../src/tfjs.ts";
import { branchCases } from "./branch-cases.ts";

describe("tfjs trainer: decay branches from a trunk checkpoint", { timeout: 120_000 }, () => {
  branchCases({ trainer: createTfjsTrainer({ backend: "wasm" }), unitSteps: 20, power: true });
});
