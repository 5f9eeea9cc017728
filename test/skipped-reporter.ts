// Ends the test summary with the suites that were skipped and why: the reference PyTorch trainer's
// and the browser's tests skip when Debian's python3-torch or chromium is missing, and
// `npm run setup` (scripts/setup.sh) installs both.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import type { Reporter, TestModule, TestSuite } from "vitest/node";

/** What a machine lacks for the whole suite to run, in words ("PyTorch (python3 -c 'import torch' failed)"). */
export function missingTools(): string[] {
  const missing: string[] = [];
  const python = process.env.POWERSWEEP_PYTHON || "/usr/bin/python3";
  if (spawnSync(python, ["-c", "import torch"], { stdio: "ignore" }).status !== 0)
    missing.push(`PyTorch (${python} cannot import torch)`);
  if (!existsSync("/usr/bin/chromium")) missing.push("Chromium (/usr/bin/chromium)");
  return missing;
}

/** The outermost skipped suites and tests of a file, by full name. */
function skipped(module: TestModule): string[] {
  const names: string[] = [];
  const visit = (children: TestModule["children"] | TestSuite["children"]) => {
    for (const child of children) {
      if (child.type === "suite") {
        if (child.state() === "skipped") names.push(child.fullName);
        else visit(child.children);
      } else if (child.result().state === "skipped") names.push(child.fullName);
    }
  };
  visit(module.children);
  return names;
}

export default class SkippedReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lines = modules.flatMap((m) =>
      skipped(m).map((name) => `  ${m.moduleId.replace(`${process.cwd()}/`, "")}: ${name}`),
    );
    if (lines.length === 0) return;
    const missing = missingTools();
    const out = [`\nSkipped (${lines.length}):`, ...lines];
    if (missing.length > 0) {
      out.push(`Missing on this machine: ${missing.join(", ")}.`);
      out.push("Install them with `npm run setup` (Debian packages python3-torch and chromium; needs root).");
    }
    console.log(out.join("\n"));
  }
}
