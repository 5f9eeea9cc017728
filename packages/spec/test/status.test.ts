// The status and kind lists are the one definition the code uses; prisma/schema.prisma must hold the
// same values, or a status written by SQL would be one the API cannot describe.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SWEEP_KINDS, SWEEP_STATUSES, sweepKindColumn, TRIAL_STATUSES, WORKER_STATES } from "../src/status.ts";

const schema = readFileSync(join(import.meta.dirname, "..", "..", "..", "prisma", "schema.prisma"), "utf8");
function prismaEnum(name: string): string[] {
  const body = schema.match(new RegExp(`enum ${name} \\{([^}]*)\\}`))?.[1];
  if (!body) throw new Error(`enum ${name} not in prisma/schema.prisma`);
  return body
    .split("\n")
    .map((l) => l.replace(/\/\/.*$/, "").trim())
    .filter(Boolean)
    .sort();
}

describe("status and kind vocabulary", () => {
  it("matches the database enums", () => {
    expect([...TRIAL_STATUSES].sort()).toEqual(prismaEnum("TrialStatus"));
    expect([...SWEEP_STATUSES].sort()).toEqual(prismaEnum("SweepStatus"));
    expect([...WORKER_STATES].sort()).toEqual(prismaEnum("WorkerState"));
    expect(SWEEP_KINDS.map(sweepKindColumn).sort()).toEqual(prismaEnum("SweepKind"));
  });
});
