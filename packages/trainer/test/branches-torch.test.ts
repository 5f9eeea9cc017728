// Decay branches from a shared trunk, reference PyTorch trainer over the exec protocol
// (docs/branches.md). Skipped, with the reason printed, when the configured python cannot import torch.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe } from "vitest";
import { createExecTrainer, referenceTorchCommand } from "../src/exec.ts";
import { branchCases } from "./branch-cases.ts";

const [python] = referenceTorchCommand() as [string, string];
const probe = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" });
const torchMissing =
  probe.status === 0
    ? null
    : `${python} cannot import torch (${(probe.error?.message ?? probe.stderr).trim().split("\n").at(-1)})`;
if (torchMissing) console.warn(`SKIPPING torch decay-branch tests: ${torchMissing}`);

const dir = mkdtempSync(join(tmpdir(), "branches-torch-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(torchMissing !== null)(
  "torch trainer: decay branches from a trunk checkpoint",
  { timeout: 180_000 },
  () => {
    branchCases({
      trainer: createExecTrainer({
        name: "torch",
        command: referenceTorchCommand(),
        dataCacheDir: join(dir, "data-cache"),
        env: { POWERSWEEP_TORCH_THREADS: "1" },
      }),
      // The host is aborted from the first branch's announcement (a message line, then SIGTERM): the
      // second branch lies 26 steps ahead, far more than the step or two the child takes meanwhile.
      unitSteps: 32,
      power: true,
    });
  },
);
