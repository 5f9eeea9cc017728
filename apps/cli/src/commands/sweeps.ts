// Sweep commands over the REST API: submit, status, watch, trials, cancel, retry, extend.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { type ParseResult, parseExtendDocument, parseSweepDocument, type SweepDocument } from "@powersweep/spec";
import { type StoredFit, TERMINAL_SWEEP_STATUSES, type TrialStatus } from "@powersweep/spec/api";
import { addToTokenPlan, checkPowerGrid, expandSweep, importedTrials, sweepSize } from "@powersweep/sweep";
import { ApiClient, type ClientOptions } from "../client.ts";
import { CliError, EXIT_SERVER, EXIT_USAGE } from "../errors.ts";
import { lrText } from "../fit-format.ts";
import { createEta, formatCounts, progressLine, renderTable, tokenPlanLine } from "../format.ts";

interface JsonFlag {
  json?: boolean;
}

function contentTypeOf(file: string): string {
  const ext = extname(file).toLowerCase();
  return ext === ".json" ? "application/json" : ext === ".csv" ? "text/csv" : "application/yaml";
}

/** Reads a document file and validates it offline with `parse`; errors name the file, line and field. */
function readDocumentFile<T>(
  file: string,
  parse: (text: string, contentType: string) => ParseResult<T>,
  what: string,
): { text: string; contentType: string; value: T } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(
      `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      EXIT_USAGE,
    );
  }
  const contentType = contentTypeOf(file);
  const parsed = parse(text, contentType);
  if (!parsed.ok) {
    const lines = parsed.errors.map((e) => `  ${file}${e.line ? `:${e.line}` : ""}: ${e.path || "/"}: ${e.message}`);
    throw new CliError(`${file} is not a valid ${what}:\n${lines.join("\n")}`, EXIT_SERVER);
  }
  return { text, contentType, value: parsed.value };
}

export const readSweepFile = (file: string) => readDocumentFile(file, parseSweepDocument, "sweep document");

export async function submit(
  g: ClientOptions,
  file: string,
  o: JsonFlag & { dryRun?: boolean; limit?: string; all?: boolean },
) {
  const { text, contentType, value } = readSweepFile(file);
  if (o.dryRun) return dryRun(value, o);
  const client = new ApiClient(g);
  const res = await client.submitSweep(text, contentType);
  if (o.json) return console.log(JSON.stringify(res));
  for (const w of res.warnings ?? []) console.error(`warning: ${w}`);
  console.log(`sweep ${res.id} created: ${res.trialCount} trials queued`);
  console.log(`follow it with: powersweep watch ${res.id}`);
}

/** The trials a document expands to, computed here: expansion is pure, so a dry run needs no server. */
export function dryRunPlan(doc: SweepDocument, limit: number) {
  const size = sweepSize(doc);
  const shown: Array<Record<string, unknown>> = [];
  let trialCount = 0;
  const trainingTokens = { planned: 0, fromScratch: 0 };
  const trials = doc.kind === "import" ? importedTrials(doc) : expandSweep(doc);
  for (const t of trials) {
    if (trialCount++ < limit) shown.push(t as unknown as Record<string, unknown>);
    addToTokenPlan(trainingTokens, t);
  }
  const warnings = doc.kind === "import" ? [] : checkPowerGrid(doc).warnings;
  return {
    trialCount,
    axes: size.description,
    trials: shown,
    truncated: trialCount > shown.length,
    trainingTokens,
    warnings,
  };
}

function dryRun(doc: SweepDocument, o: JsonFlag & { limit?: string; all?: boolean }) {
  const limit = o.all ? Number.POSITIVE_INFINITY : Number(o.limit ?? 10);
  if (!(limit >= 0)) throw new CliError(`--limit must be a number ≥ 0, got "${o.limit}"`, EXIT_USAGE);
  const plan = dryRunPlan(doc, limit);
  if (o.json) return console.log(JSON.stringify(plan));
  for (const w of plan.warnings) console.error(`warning: ${w}`);
  const n = plan.trialCount.toLocaleString("en-US");
  console.log(`dry run (checked and expanded here; nothing was sent): ${n} trials (${plan.axes})`);
  const saved = tokenPlanLine(plan.trainingTokens);
  if (saved) console.log(saved);
  if (plan.trials.length) console.log(renderTable(trialRows(plan.trials)));
  if (plan.truncated) console.log(`showing ${plan.trials.length} of ${n} trials: --limit N or --all to see more`);
  console.log("the server checks its own limits (trial cap, trainers the fleet offers) when you submit");
}

const fmtNumber = (v: unknown) =>
  typeof v === "number" ? (Math.abs(v) >= 1e4 ? v.toExponential(2) : String(v)) : v == null ? "" : String(v);
/** Learning rates and the Power scheduler's a in one format (2.50e-3, 1.00e-2), so a column reads down evenly. */
const fmtRate = (v: unknown) => (typeof v === "number" ? lrText(v) : "");

/**
 * Table rows for trials; a dry run's planned trials have no id, status or result columns. A
 * `placedBy` column (the adaptive η search's step that placed each trial) when any trial has one.
 */
function trialRows(ts: Array<Record<string, unknown>>): Array<Record<string, string>> {
  const placed = ts.some((t) => t.placedBy != null);
  return ts.map((t) => {
    const row = trialRow(t);
    if (!placed) return row;
    const { status, testLoss, ...rest } = row;
    return {
      ...rest,
      placedBy: t.placedBy == null ? "grid" : String(t.placedBy),
      ...(status !== undefined ? { status } : {}),
      ...(testLoss !== undefined ? { testLoss } : {}),
    };
  });
}

/** A table row for a trial; a dry run's planned trials have no id, status or result columns. */
function trialRow(t: Record<string, unknown>): Record<string, string> {
  const cfg = (t.config ?? {}) as Record<string, unknown>;
  const power = t.powerA != null;
  const row: Record<string, string> = {};
  if (t.id != null) row.id = String(t.id);
  row.model = fmtNumber(t.model ?? (cfg.model as Record<string, unknown> | undefined)?.name);
  row.tokens = fmtNumber(t.tokens ?? cfg.tokens);
  row.batchSize = fmtNumber(t.batchSize ?? cfg.batchSize);
  if (power) {
    row.a = fmtRate(t.powerA);
    row.b = fmtNumber(t.powerB);
  } else row.lr = fmtRate(t.lr);
  row.seed = fmtNumber(t.seed);
  if (t.status != null) row.status = String(t.status);
  if (t.id != null) row.testLoss = typeof t.testLoss === "number" ? t.testLoss.toFixed(4) : "";
  return row;
}

export async function status(g: ClientOptions, id: string | undefined, o: JsonFlag) {
  const client = new ApiClient(g);
  if (id) {
    const s = await client.getSweep(id);
    if (o.json) return console.log(JSON.stringify(s));
    console.log(`${s.name} (${s.id})  ${s.kind}  ${s.status}`);
    console.log(progressLine(s));
    const saved = tokenPlanLine(s.trainingTokens);
    if (saved) console.log(saved);
    return;
  }
  const list = await client.listSweeps({ limit: 50 });
  if (o.json) return console.log(JSON.stringify(list));
  if (!list.items.length) return console.log("no sweeps yet: submit one with `powersweep submit sweep.yaml`");
  console.log(
    renderTable(
      list.items.map((s) => ({
        id: s.id.slice(0, 8),
        name: s.name,
        kind: s.kind,
        status: s.status,
        trials: String(s.trialCount),
        progress: formatCounts(s.counts),
      })),
    ),
  );
}

const FINISHED = new Set<string>(TERMINAL_SWEEP_STATUSES);

/** How long `watch` waits for the fit of a finished sweep. */
const FIT_WAIT_MS = 120_000;

/** The fitter refits after the last result (debounced): wait for the fit that covers every result. */
export async function waitForFit(
  client: ApiClient,
  id: string,
  finished: number,
  timeoutMs = 120_000,
): Promise<StoredFit> {
  const started = Date.now();
  for (;;) {
    const fit = await client.getFit(id).catch(() => null);
    if (fit && fit.inputs?.rowCount >= finished) return fit;
    if (Date.now() - started > timeoutMs)
      throw new CliError(`no fit covering all ${finished} results after ${timeoutMs / 1000} s: is the fitter running?`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function watch(g: ClientOptions, id: string, o: JsonFlag & { interval: string }) {
  const client = new ApiClient(g);
  const intervalMs = Math.max(0.2, Number(o.interval) || 2) * 1000;
  const tty = process.stdout.isTTY && !o.json;
  let last = "";
  const eta = createEta();
  for (;;) {
    const s = await client.getSweep(id);
    if (o.json)
      console.log(JSON.stringify({ id: s.id, status: s.status, counts: s.counts, at: new Date().toISOString() }));
    else {
      const line = progressLine(s, eta(s, Date.now()));
      // Without a terminal, print when the counts change (not each tick of the ETA).
      const counts = progressLine(s);
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else if (counts !== last) console.log(line);
      last = counts;
    }
    if (FINISHED.has(s.status)) {
      if (tty) process.stdout.write("\n");
      if (!o.json) console.log(`sweep ${s.status}`);
      // The fitter refits shortly after the last result: wait for that fit, so that `powersweep
      // fit` right after this shows every result.
      const results = (s.counts.succeeded ?? 0) + (s.counts.diverged ?? 0);
      if (results > 0) {
        await waitForFit(client, id, results, FIT_WAIT_MS);
        if (!o.json) console.log(`fit ready: powersweep fit ${id}`);
      }
      return;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function trials(
  g: ClientOptions,
  id: string,
  o: JsonFlag & { status?: string; limit: string; offset?: string },
) {
  const client = new ApiClient(g);
  const limit = Number(o.limit);
  const offset = Number(o.offset ?? 0);
  if (!Number.isInteger(limit) || limit < 1)
    throw new CliError(`--limit must be a whole number ≥ 1, got "${o.limit}"`, EXIT_USAGE);
  if (!Number.isInteger(offset) || offset < 0)
    throw new CliError(`--offset must be a whole number ≥ 0, got "${o.offset}"`, EXIT_USAGE);
  const res = await client.listTrials(id, {
    limit,
    offset,
    ...(o.status ? { status: o.status as TrialStatus } : {}),
  });
  if (o.json) return console.log(JSON.stringify(res));
  if (!res.items.length) return console.log(offset ? `no trials past ${offset}` : "no trials match");
  console.log(renderTable(trialRows(res.items as unknown as Array<Record<string, unknown>>)));
  const end = offset + res.items.length;
  if (typeof res.total === "number" && end < res.total)
    console.log(`trials ${offset + 1}–${end} of ${res.total}: next page with --offset ${end}`);
}

export async function action(g: ClientOptions, id: string, verb: "cancel" | "retry" | "resume", o: JsonFlag) {
  const client = new ApiClient(g);
  const res =
    verb === "cancel"
      ? await client.cancelSweep(id)
      : verb === "retry"
        ? await client.retrySweep(id)
        : await client.resumeSweep(id);
  if (o.json) return console.log(JSON.stringify(res));
  console.log(actionLine(id, verb, res));
}

/** What cancel, retry or resume did, in words (the API answers with counts of the trials it moved). */
export function actionLine(id: string, verb: "cancel" | "retry" | "resume", res: Record<string, unknown>): string {
  const n = (k: string) => (typeof res[k] === "number" ? (res[k] as number) : 0);
  const trials = (k: number) => `${k} trial${k === 1 ? "" : "s"}`;
  if (verb === "cancel")
    return `sweep ${id} cancelled: ${trials(n("cancelled"))} that had not started, ${trials(n("signalled"))} running (each stops at its worker's next heartbeat)`;
  if (verb === "retry") return `sweep ${id}: ${trials(n("retried"))} that crashed queued again`;
  return `sweep ${id} resumed: ${trials(n("resumed"))} queued again`;
}

export async function extend(g: ClientOptions, id: string, file: string, o: JsonFlag & { dryRun?: boolean }) {
  const { text, contentType } = readDocumentFile(file, parseExtendDocument, "extension document");
  const res = await new ApiClient(g).extendSweep(id, text, contentType, o.dryRun ? { dryRun: true } : {});
  if (o.json) return console.log(JSON.stringify(res));
  console.log(`${o.dryRun ? "dry run: would add" : "added"} ${res.added} new trials`);
}
