#!/usr/bin/env -S npx tsx
import { loadConfig, ServiceUnavailableError } from "@powersweep/runtime";
// powersweep: the command-line interface. Exit codes: 0 success, 1 usage, 2 server or validation error.
import { Command, CommanderError, Option } from "commander";
import { CliError, EXIT_SERVER, EXIT_USAGE } from "./errors.ts";

const program = new Command("powersweep")
  .description("LR and batch-size scaling-law sweeps (Power Scheduler, Time Transfer)")
  .addOption(new Option("--server <url>", "API address").env("POWERSWEEP_SERVER").default("http://127.0.0.1:8080"))
  .addOption(new Option("--token <token>", "API token").env("POWERSWEEP_TOKEN"))
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

const globals = () => program.opts<{ server: string; token?: string }>();

// --- processes ------------------------------------------------------------------------------
program
  .command("start")
  .description("run api + fitter + worker in the foreground (migrates first)")
  .option("--workers <n>", "worker slots in this process", "1")
  .action(async (o) => {
    const { startStack, closeOnSignals } = await import("./commands/stack.ts");
    const stack = await startStack({ workers: Number(o.workers) });
    closeOnSignals(stack.parts, "powersweep");
  });

program
  .command("api")
  .description("run the REST API (migrates first)")
  .action(async () => {
    const { prepareServices, closeOnSignals } = await import("./commands/stack.ts");
    const config = loadConfig();
    await prepareServices(config);
    const { startApi } = await import("@powersweep/api");
    closeOnSignals([await startApi(config)], "api");
  });

program
  .command("fitter")
  .description("run the fitting service")
  .action(async () => {
    const { prepareServices, closeOnSignals } = await import("./commands/stack.ts");
    const config = loadConfig();
    await prepareServices(config, { migrations: false });
    const { startFitter } = await import("@powersweep/fitter");
    closeOnSignals([await startFitter(config)], "fitter");
  });

program
  .command("worker")
  .description("run a worker: one trial per device at a time")
  .option("--devices <list>", "GPU indices, one processor each (e.g. 0,1,2,3)")
  .option("--slots-per-device <n>", "trials per device at once, each its own process (default 1)")
  .option("--concurrency <n>", "CPU trial slots (default 1)")
  .option("--trainer-exec <name=command...>", "offer an exec trainer under a name (repeatable)")
  .action(async (o) => {
    const { prepareServices, closeOnSignals, parseWorkerFlags, workerOptions } = await import("./commands/stack.ts");
    const config = loadConfig();
    const flags = await parseWorkerFlags(o);
    await prepareServices(config, { migrations: false });
    const { startWorker } = await import("@powersweep/worker");
    closeOnSignals([await startWorker(await workerOptions(config, flags))], "worker");
  });

// --- tokens (direct database access: run where the stack runs) --------------------------------
const token = program.command("token").description("API tokens");
token
  .command("create")
  .requiredOption("--name <name>", "a unique name")
  .addOption(
    new Option("--scope <scope>", "what the token may do").choices(["read", "submit", "admin"]).default("submit"),
  )
  .option("--json", "machine-readable output")
  .action(async (o) => (await import("./commands/tokens.ts")).createToken(o));
token
  .command("list")
  .option("--json", "machine-readable output")
  .action(async (o) => (await import("./commands/tokens.ts")).listTokens(o));
token.command("revoke <name>").action(async (name) => (await import("./commands/tokens.ts")).revokeToken(name));

// --- sweeps ---------------------------------------------------------------------------------
program
  .command("submit <file>")
  .description("validate and submit a sweep document (YAML or JSON)")
  .option("--dry-run", "show the expansion without creating anything")
  .option("--json", "machine-readable output")
  .action(async (file, o) => (await import("./commands/sweeps.ts")).submit(globals(), file, o));
program
  .command("status [id]")
  .description("sweeps with their progress, or one sweep")
  .option("--json", "machine-readable output")
  .action(async (id, o) => (await import("./commands/sweeps.ts")).status(globals(), id, o));
program
  .command("watch <id>")
  .description("live progress of a sweep until it finishes")
  .option("--interval <seconds>", "poll interval", "2")
  .option("--json", "print one JSON line per update")
  .action(async (id, o) => (await import("./commands/sweeps.ts")).watch(globals(), id, o));
program
  .command("trials <id>")
  .description("the trials of a sweep")
  .option("--status <status>", "only trials with this status")
  .option("--limit <n>", "how many", "100")
  .option("--json", "machine-readable output")
  .action(async (id, o) => (await import("./commands/sweeps.ts")).trials(globals(), id, o));
program
  .command("cancel <id>")
  .option("--json", "machine-readable output")
  .action(async (id, o) => (await import("./commands/sweeps.ts")).action(globals(), id, "cancel", o));
program
  .command("retry <id>")
  .option("--json", "machine-readable output")
  .action(async (id, o) => (await import("./commands/sweeps.ts")).action(globals(), id, "retry", o));
program
  .command("extend <id> <file>")
  .description("add axis values to a sweep (new trials only)")
  .option("--dry-run", "show what would be added")
  .option("--json", "machine-readable output")
  .action(async (id, file, o) => (await import("./commands/sweeps.ts")).extend(globals(), id, file, o));

// --- fits -----------------------------------------------------------------------------------
program
  .command("fit <id>")
  .description("η_opt table, γ table, law with CI, edge warnings")
  .option("--csv", "print the tables as CSV")
  .option("--json", "machine-readable output")
  .action(async (id, o) => (await import("./commands/fit.ts")).fit(globals(), id, o));
program
  .command("predict")
  .description("predicted η_opt = β·a·T^b with its interval, and a Power-scheduler config")
  .requiredOption("--tokens <T>", "training tokens of the target run (e.g. 1e12)")
  .requiredOption("--batch-size <β>", "batch size in sequences")
  .option("--sweep <id>", "use the fitted law of this sweep (server)")
  .option("--a <a>", "law coefficient a (offline)")
  .option("--b <b>", "law exponent b (offline)")
  .option("--eta-max <η>", "η_max clamp for the scheduler config", "0.02")
  .option("--json", "machine-readable output")
  .action(async (o) => {
    await (await import("./commands/fit.ts")).predict(globals(), o);
  });
program
  .command("schedule")
  .description("print the LR curve the trainer would use")
  .addOption(
    new Option("--type <type>", "schedule type").choices(["constant", "cosine", "wsd", "power"]).makeOptionMandatory(),
  )
  .requiredOption("--tokens <N>", "total training tokens")
  .option("--lr <η>", "peak lr (constant, cosine, wsd)")
  .option("--a <a>", "power: a", "4")
  .option("--b <b>", "power: b", "-0.51")
  .option("--eta-max <η>", "power: η_max", "0.02")
  .option("--batch-size <β>", "power: batch size in sequences", "128")
  .option("--warmup-tokens <n>", "linear warmup", "0")
  .option("--decay-fraction <f>", "wsd/power: final decay fraction", "0.1")
  .addOption(
    new Option("--decay-shape <shape>", "wsd/power decay shape")
      .choices(["exponential", "linear", "cosine", "one-minus-sqrt"])
      .default("linear"),
  )
  .option("--min-lr-ratio <r>", "cosine: final lr / peak", "0")
  .option("--points <K>", "rows to print", "21")
  .option("--csv", "CSV output")
  .option("--json", "JSON output")
  .action(async (o) => (await import("./commands/schedule.ts")).schedule(o));
program
  .command("train")
  .description("run one trial in-process (no queue, no database)")
  .requiredOption("--config <file>", "trial config JSON (or a sweep file's first trial)")
  .option("--trainer <name>", "trainer backend", "tfjs")
  .option("--json", "JSON lines output")
  .action(async (o) => (await import("./commands/train.ts")).train(o));

// --- the main job -----------------------------------------------------------------------------
program
  .command("demo")
  .description("the end-to-end demo: stack, real small lr-grid sweep, fit, tables and plots")
  .option("--quick", "a reduced sweep (CI)")
  .option("--keep", "keep the stack running after the demo until Ctrl-C")
  .option("--out <dir>", "where plots go", "demo-output")
  .action(async (o) => (await import("./demo.ts")).demo(o));

async function main() {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    if (err instanceof CliError) {
      console.error(`powersweep: ${err.message}`);
      process.exit(err.exitCode);
    }
    if (err instanceof ServiceUnavailableError) {
      console.error(`powersweep: ${err.message}`);
      process.exit(EXIT_SERVER);
    }
    console.error(err);
    process.exit(EXIT_SERVER);
  }
}

await main();
