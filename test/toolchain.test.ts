// The build's wiring: TypeScript project references follow what the code imports, every workspace
// package runs from its compiled dist/ under node and from src/ under vitest.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const workspaces = ["apps", "packages"].flatMap((group) =>
  readdirSync(join(root, group)).map((name) => join(group, name)),
);

describe("build wiring", () => {
  it("each workspace's tsconfig references the workspaces its sources import", () => {
    const res = spawnSync(process.execPath, [join(root, "scripts", "tsconfig-references.mjs"), "--check"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(res.stderr).toBe("");
    expect(res.status).toBe(0);
  });

  it("each library exports its sources under the source condition and its compiled dist/ otherwise", () => {
    for (const dir of workspaces) {
      const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
      if (dir === "apps/web") continue; // a browser bundle (build.mjs), not imported by node
      const entry = pkg.exports["."];
      expect(Object.keys(entry), dir).toEqual(["source", "default"]);
      expect(entry.default, dir).toBe(entry.source.replace("./src/", "./dist/").replace(/\.ts$/, ".js"));
    }
  });
});
