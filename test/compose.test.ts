// docker-compose.yml cannot be run here (no Docker engine), so check what `docker compose config`
// would: it parses, every dependency names a defined service with a healthcheck, each app service
// runs a real CLI subcommand against the compose Postgres/Redis, and Redis is set up for BullMQ.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = join(import.meta.dirname, "..");
const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<
    string,
    {
      command?: string[];
      environment?: Record<string, string>;
      depends_on?: Record<string, { condition: string }>;
      healthcheck?: unknown;
      build?: string;
      image?: string;
    }
  >;
};
const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
/** The image's ENTRYPOINT, e.g. ["node", "apps/cli/dist/main.js"]. */
const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? "[]") as string[];

/** Runs the image's entrypoint here (the build is the same: npm ci builds dist/) with these arguments. */
function runEntrypoint(args: string[]) {
  const [cmd, ...rest] = entrypoint;
  return spawnSync(cmd === "node" ? process.execPath : cmd!, [...rest, ...args], { cwd: root, encoding: "utf8" });
}

describe("docker-compose.yml", () => {
  it("describes the whole stack", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["api", "fitter", "postgres", "redis", "worker"]);
  });

  it("runs each app service as a real CLI subcommand against the compose services", () => {
    for (const name of ["api", "fitter", "worker"]) {
      const s = compose.services[name]!;
      expect(s.build).toBe(".");
      // the image's entrypoint knows the command and its flags (--help parses them and exits 0)
      const help = runEntrypoint([...(s.command ?? []), "--help"]);
      expect(help.status, `${name}: ${help.stderr}`).toBe(0);
      expect(help.stdout).toContain(`Usage: powersweep ${s.command?.[0]}`);
      expect(s.environment?.DATABASE_URL).toMatch(/^postgresql:\/\/postgres:postgres@postgres:5432\/powersweep$/);
      expect(s.environment?.REDIS_URL).toBe("redis://redis:6379");
    }
  });

  it("only depends on defined services that have healthchecks", () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
        expect(compose.services[dep], `${name} depends on ${dep}`).toBeDefined();
        expect(cond.condition).toBe("service_healthy");
        expect(compose.services[dep]!.healthcheck, `${dep} needs a healthcheck`).toBeDefined();
      }
    }
  });

  it("configures Redis for BullMQ (noeviction, persistence)", () => {
    const cmd = compose.services.redis!.command!.join(" ");
    expect(cmd).toContain("--maxmemory-policy noeviction");
    expect(cmd).toContain("--appendonly yes");
  });

  it("builds from a Dockerfile that installs from the lockfile and runs the compiled CLI", () => {
    expect(dockerfile).toMatch(/^RUN npm ci .*--include=dev/m);
    for (const m of dockerfile.matchAll(/^COPY (.+) \S+$/gm)) {
      for (const source of m[1]!.split(" ").filter((p) => !p.includes("*"))) {
        expect(existsSync(join(root, source)), `COPY ${source}`).toBe(true);
      }
    }
    expect(entrypoint[0]).toBe("node");
    expect(runEntrypoint(["--help"]).status).toBe(0);
  });
});
