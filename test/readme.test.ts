// README's "Running the stack" block, run as a new user would: each line as written, on a new
// database, through the real CLI (`npm start`, `npx powersweep …`), with the admin token, the token
// and the sweep id that earlier lines print put in place of the `<…>` placeholders.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../apps/cli/test/helpers.ts";
import { freshDatabaseUrl, uniquePrefix } from "./env.ts";

const root = join(import.meta.dirname, "..");

/** The commands of the README's "Running the stack" code block, comments dropped. */
function runningTheStack(readme: string): string[] {
  const section = readme.slice(readme.indexOf("## Running the stack"));
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  return block
    .split("\n")
    .map((l) => l.replace(/\s+#.*$/, "").trim())
    .filter((l) => l && !l.startsWith("#"));
}

function run(argv: string[], env: NodeJS.ProcessEnv, timeoutMs = 300_000) {
  return new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${argv.join(" ")} timed out:\n${out}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

let stack: ChildProcess | undefined;
afterAll(() => {
  // npm start runs the stack in a child of its own: stop the whole process group.
  if (stack?.pid) process.kill(-stack.pid, "SIGTERM");
});

describe("README: Running the stack", () => {
  it("works line by line on a new database", { timeout: 480_000 }, async () => {
    const lines = runningTheStack(readFileSync(join(root, "README.md"), "utf8"));
    expect(lines[0]).toBe("npm start");
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: await freshDatabaseUrl("readme"),
      REDIS_PREFIX: uniquePrefix("readme"),
      POWERSWEEP_SERVER: `http://127.0.0.1:${port}`,
      POWERSWEEP_TOKEN: "",
    };

    stack = spawn("npm", ["start"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stackOut = "";
    stack.stdout!.on("data", (d) => (stackOut += d));
    stack.stderr!.on("data", (d) => (stackOut += d));
    for (let i = 0; i < 480; i++) {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok && /ps_\S+/.test(stackOut)) break;
      if (stack.exitCode !== null) throw new Error(`npm start exited:\n${stackOut}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const admin = /ps_\S+/.exec(stackOut)?.[0];
    expect(admin, stackOut).toBeTruthy();

    const values: Record<string, string> = { "<admin token>": admin! };
    const seen: string[] = [];
    for (const line of lines.slice(1)) {
      const command = Object.entries(values).reduce((l, [k, v]) => l.replaceAll(k, v), line);
      expect(command, `a placeholder in "${line}" has no value yet`).not.toMatch(/<[^>]+>/);
      const exported = /^export (\w+)=(.*)$/.exec(command);
      if (exported) {
        env[exported[1]!] = exported[2]!;
        continue;
      }
      const { code, out } = await run(command.split(/\s+/), env);
      expect(code, `${line}\n${out}`).toBe(0);
      seen.push(out);
      if (/ token create /.test(line)) values["<token>"] = /ps_\S+/.exec(out)?.[0] ?? "";
      if (/ submit /.test(line))
        values["<sweep-id>"] = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(out)?.[0] ?? "";
    }
    // the tables print 8 characters of an id: that prefix works wherever an id does
    const id = values["<sweep-id>"]!;
    const short = await run(["npx", "powersweep", "status", id.slice(0, 8)], env);
    expect(short.code, short.out).toBe(0);
    expect(short.out).toContain(id);
    const none = await run(["npx", "powersweep", "status", "00000000"], env);
    expect(none.code).toBe(2);
    expect(none.out).toContain('no sweep id starts with "00000000"');
    const all = seen.join("\n");
    expect(all).toMatch(/sweep completed/); // watch followed the sweep to its end
    expect(all).toMatch(/η_opt/); // the fit's tables
    expect(all).toMatch(/succeeded: test loss \d/); // the in-process trial
  });
});
