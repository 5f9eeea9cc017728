#!/usr/bin/env node
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

// `powersweep trials … | head`: a closed pipe ends the output, not in a stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

/** A sweep id argument: a whole id or a unique prefix (as the tables print it), resolved by the API. */
const sweepArg = async (id: string) => {
  const { ApiClient } = await import("./client.ts");
  return new ApiClient(globals()).sweepId(id);
};

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
    const { prepareServices, printFirstAdminToken, closeOnSignals } = await import("./commands/stack.ts");
    const config = loadConfig();
    await prepareServices(config);
    await printFirstAdminToken(config);
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

// --- tokens (through the API, admin scope) ----------------------------------------------------
const token = program
  .command("token")
  .description("API tokens (needs an admin token; `powersweep start` prints the first one on a new database)");
token
  .command("create")
  .description("create a token; its secret is printed once")
  .requiredOption("--name <name>", "a unique name (the owner of the sweeps the token submits)")
  .addOption(
    new Option("--scope <scope>", "what the token may do").choices(["read", "submit", "admin"]).default("submit"),
  )
  .option("--database-url <url>", "operators only: write into this existing, migrated database instead of the API")
  .option("--json", "machine-readable output")
  .action(async (o) => (await import("./commands/tokens.ts")).createToken(globals(), o));
token
  .command("list")
  .description("tokens with their scopes and state (never their secrets)")
  .option("--json", "machine-readable output")
  .action(async (o) => (await import("./commands/tokens.ts")).listTokens(globals(), o));
token
  .command("revoke <name-or-id>")
  .description("revoke a token; every API process refuses it from the next request")
  .action(async (which) => (await import("./commands/tokens.ts")).revokeToken(globals(), which));

// --- sweeps ---------------------------------------------------------------------------------
program
  .command("submit <file>")
  .description("validate and submit a sweep document (YAML or JSON)")
  .option("--dry-run", "expand here and list the trials; nothing is sent (no server needed)")
  .option("--limit <n>", "dry run: trials to list", "10")
  .option("--all", "dry run: list every trial")
  .option("--json", "machine-readable output")
  .action(async (file, o) => (await import("./commands/sweeps.ts")).submit(globals(), file, o));
program
  .command("status [id]")
  .description("sweeps with their progress, or one sweep")
  .option("--json", "machine-readable output")
  .action(async (id, o) =>
    (await import("./commands/sweeps.ts")).status(globals(), id === undefined ? undefined : await sweepArg(id), o),
  );
program
  .command("watch <id>")
  .description("live progress of a sweep until it finishes")
  .option("--interval <seconds>", "poll interval", "2")
  .option("--json", "print one JSON line per update")
  .action(async (id, o) => (await import("./commands/sweeps.ts")).watch(globals(), await sweepArg(id), o));
program
  .command("trials <id>")
  .description("the trials of a sweep")
  .option("--status <status>", "only trials with this status")
  .option("--limit <n>", "how many (at most 1000 a page)", "100")
  .option("--offset <n>", "skip this many (the next page starts where the last one ended)", "0")
  .option("--json", "machine-readable output")
  .action(async (id, o) => (await import("./commands/sweeps.ts")).trials(globals(), await sweepArg(id), o));
program
  .command("cancel <id>")
  .description("stop a sweep: queued trials are cancelled, running ones stop at their next heartbeat")
  .option("--json", "machine-readable output")
  .action(async (id, o) => (await import("./commands/sweeps.ts")).action(globals(), await sweepArg(id), "cancel", o));
program
  .command("retry <id>")
  .description("queue a sweep's failed trials again (new attempts; finished results are kept)")
  .option("--json", "machine-readable output")
  .action(async (id, o) => (await import("./commands/sweeps.ts")).action(globals(), await sweepArg(id), "retry", o));
program
  .command("resume <id>")
  .description("resume a cancelled sweep: its cancelled and failed trials are queued again")
  .option("--json", "machine-readable output")
  .action(async (id, o) => (await import("./commands/sweeps.ts")).action(globals(), await sweepArg(id), "resume", o));
program
  .command("extend <id> <file>")
  .description("add axis values to a sweep (new trials only)")
  .option("--dry-run", "show what would be added")
  .option("--json", "machine-readable output")
  .action(async (id, file, o) => (await import("./commands/sweeps.ts")).extend(globals(), await sweepArg(id), file, o));

// --- fits -----------------------------------------------------------------------------------
program
  .command("fit <id>")
  .description("η_opt table, γ table, law with CI, edge warnings")
  .option("--csv", "print the tables as CSV")
  .option("--json", "machine-readable output")
  .action(async (id, o) => (await import("./commands/fit.ts")).fit(globals(), await sweepArg(id), o));
program
  .command("predict")
  .description("predicted η_opt = β·a·T^b with its interval, and a Power-scheduler config")
  .requiredOption("--tokens <T>", "training tokens of the target run (e.g. 1e12)")
  .requiredOption("--batch-size <β>", "batch size in sequences")
  .option("--sweep <id>", "use the fitted law of this sweep (server)")
  .option("--a <a>", "law coefficient a (offline)")
  .option("--b <b>", "law exponent b (offline)")
  .option("--eta-max <η>", "η_max clamp for the scheduler config", "0.02")
  .option("--warmup-tokens <n>", "scheduler warmup in tokens (default: the paper's 1e9, at most 1% of --tokens)")
  .option("--json", "machine-readable output")
  .action(async (o) => {
    const sweep = o.sweep === undefined ? undefined : await sweepArg(o.sweep);
    await (await import("./commands/fit.ts")).predict(globals(), { ...o, ...(sweep ? { sweep } : {}) });
  });
program
  .command("curves <id>")
  .description(
    "loss-curve model: predicted final loss per (model, β, η) of a schedule at T, predicted η_opt, best decay",
  )
  .requiredOption("--tokens <T>", "training tokens of the predicted runs")
  .option("--schedule <type>", "wsd, cosine or constant", "wsd")
  .option("--decay-fraction <f>", "wsd: final decay fraction (default 0.1)")
  .addOption(
    new Option("--decay-shape <shape>", "wsd decay shape").choices([
      "exponential",
      "linear",
      "cosine",
      "one-minus-sqrt",
    ]),
  )
  .option("--warmup-tokens <n>", "linear warmup (default: the sweep's)")
  .option("--law <law>", "multi-power or tissue", "multi-power")
  .option("--model <name>", "only this model")
  .option("--batch-size <β>", "only this batch size")
  .option("--json", "machine-readable output")
  .action(async (id, o) => (await import("./commands/curves.ts")).curves(globals(), await sweepArg(id), o));
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
      .default("exponential"),
  )
  .option("--min-lr-ratio <r>", "cosine: final lr / peak", "0")
  .option("--points <K>", "rows to print", "21")
  .option("--csv", "CSV output")
  .option("--json", "JSON output")
  .action(async (o) => (await import("./commands/schedule.ts")).schedule(o));
program
  .command("train")
  .description("run one trial in-process (no queue, no database)")
  .requiredOption("--config <file>", "a trial config (YAML or JSON, docs/documents.md) or a sweep document")
  .option("--trial <n>", "with a sweep document: which of its trials (0-based, as `submit --dry-run` lists them)")
  .option("--trainer <name>", "trainer backend", "tfjs")
  .option("--json", "JSON lines output")
  .action(async (o) => (await import("./commands/train.ts")).train(o));

// --- offline batches (clusters without network; docs/offline.md) -------------------------------
program
  .command("export [sweep]")
  .description("claim a sweep's queued trials for an offline batch and write them with Slurm and shell runners")
  .option("--out <dir>", "the batch directory (new or empty)")
  .option("--batch <id>", "batch id (default: time + random)")
  .option("--limit <n>", "export at most n trials")
  .option(
    "--sbatch <option>",
    "an extra #SBATCH line, repeatable: --sbatch --gres=gpu:1 --sbatch --time=01:00:00",
    (v: string, all: string[]) => [...all, v],
    [] as string[],
  )
  .option("--release <dir>", "import what the batch's tasks wrote, then give its unrun trials back")
  .option("--json", "machine-readable output")
  .action(async (sweep, o) =>
    (await import("./commands/offline.ts")).exportCommand(
      globals(),
      sweep === undefined ? undefined : await sweepArg(sweep),
      o,
    ),
  );
program
  .command("import-results <dir>")
  .description("record the results an export batch's tasks wrote (a re-import adds nothing)")
  .option("--release", "then give the batch's unrun or crashed trials back to the workers")
  .option("--json", "machine-readable output")
  .action(async (dir, o) => (await import("./commands/offline.ts")).importResults(globals(), dir, o));

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
