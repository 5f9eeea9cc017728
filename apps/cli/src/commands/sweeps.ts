// Sweep commands over the REST API: submit, status, watch, trials, cancel, retry, extend.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { type DocumentError, parseExtendDocument, parseSweepDocument } from "@powersweep/spec";
import { ApiClient, type ClientOptions } from "../client.ts";
import { CliError, EXIT_SERVER, EXIT_USAGE } from "../errors.ts";
import { formatCounts, progressLine, renderTable, type SweepSummary } from "../format.ts";

interface JsonFlag {
  json?: boolean;
}

function contentTypeOf(file: string): string {
  const ext = extname(file).toLowerCase();
  return ext === ".json" ? "application/json" : ext === ".csv" ? "text/csv" : "application/yaml";
}

/** Reads a document file and validates it offline with `parse`; errors name the file, line and field. */
function readDocumentFile(
  file: string,
  parse: (text: string, contentType: string) => { ok: true } | { ok: false; errors: DocumentError[] },
  what: string,
): { text: string; contentType: string } {
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
  return { text, contentType };
}

export const readSweepFile = (file: string) => readDocumentFile(file, parseSweepDocument, "sweep document");

export async function submit(g: ClientOptions, file: string, o: JsonFlag & { dryRun?: boolean }) {
  const { text, contentType } = readSweepFile(file);
  const client = new ApiClient(g);
  const res = await client.post<Record<string, unknown>>(
    `/v1/sweeps${o.dryRun ? "?dryRun=true" : ""}`,
    text,
    contentType,
  );
  if (o.json) return console.log(JSON.stringify(res));
  for (const w of (res.warnings ?? []) as string[]) console.error(`warning: ${w}`);
  if (o.dryRun) {
    console.log(`dry run: ${res.trialCount} trials would be created (nothing was written)`);
    const first = (res.trials ?? res.firstTrials ?? []) as Array<Record<string, unknown>>;
    if (first.length) console.log(renderTable(first.slice(0, 10).map(trialRow)));
    return;
  }
  console.log(`sweep ${res.id} created: ${res.trialCount} trials queued`);
  console.log(`follow it with: powersweep watch ${res.id}`);
}

function trialRow(t: Record<string, unknown>) {
  const cfg = (t.config ?? {}) as Record<string, unknown>;
  const fmt = (v: unknown) =>
    typeof v === "number"
      ? Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0)
        ? v.toExponential(2)
        : String(v)
      : v == null
        ? ""
        : String(v);
  return {
    id: String(t.id ?? "").slice(0, 8),
    model: fmt(t.model ?? (cfg.model as Record<string, unknown> | undefined)?.name),
    tokens: fmt(t.tokens ?? cfg.tokens),
    batchSize: fmt(t.batchSize ?? cfg.batchSize),
    lr: fmt(t.lr),
    a: fmt(t.powerA),
    b: fmt(t.powerB),
    seed: fmt(t.seed),
    status: fmt(t.status),
    testLoss: typeof t.testLoss === "number" ? t.testLoss.toFixed(4) : "",
  };
}

export async function status(g: ClientOptions, id: string | undefined, o: JsonFlag) {
  const client = new ApiClient(g);
  if (id) {
    const s = await client.get<SweepSummary>(`/v1/sweeps/${encodeURIComponent(id)}`);
    if (o.json) return console.log(JSON.stringify(s));
    console.log(`${s.name} (${s.id})  ${s.kind}  ${s.status}`);
    console.log(progressLine(s));
    return;
  }
  const list = await client.get<{ items: SweepSummary[] }>("/v1/sweeps?limit=50");
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

const FINISHED = new Set(["completed", "cancelled"]);

export async function watch(g: ClientOptions, id: string, o: JsonFlag & { interval: string }) {
  const client = new ApiClient(g);
  const intervalMs = Math.max(0.2, Number(o.interval) || 2) * 1000;
  const tty = process.stdout.isTTY && !o.json;
  let last = "";
  for (;;) {
    const s = await client.get<SweepSummary>(`/v1/sweeps/${encodeURIComponent(id)}`);
    if (o.json)
      console.log(JSON.stringify({ id: s.id, status: s.status, counts: s.counts, at: new Date().toISOString() }));
    else {
      const line = progressLine(s);
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else if (line !== last) console.log(line);
      last = line;
    }
    if (FINISHED.has(s.status)) {
      if (tty) process.stdout.write("\n");
      if (!o.json) console.log(`sweep ${s.status}`);
      return;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function trials(g: ClientOptions, id: string, o: JsonFlag & { status?: string; limit: string }) {
  const client = new ApiClient(g);
  const q = new URLSearchParams({ limit: String(Number(o.limit) || 100) });
  if (o.status) q.set("status", o.status);
  const res = await client.get<{ items: Array<Record<string, unknown>> }>(
    `/v1/sweeps/${encodeURIComponent(id)}/trials?${q}`,
  );
  if (o.json) return console.log(JSON.stringify(res));
  if (!res.items.length) return console.log("no trials match");
  console.log(renderTable(res.items.map(trialRow)));
}

export async function action(g: ClientOptions, id: string, verb: "cancel" | "retry", o: JsonFlag) {
  const res = await new ApiClient(g).post<Record<string, unknown>>(`/v1/sweeps/${encodeURIComponent(id)}/${verb}`);
  if (o.json) return console.log(JSON.stringify(res));
  console.log(`${verb}: ${JSON.stringify(res)}`);
}

export async function extend(g: ClientOptions, id: string, file: string, o: JsonFlag & { dryRun?: boolean }) {
  const { text, contentType } = readDocumentFile(file, parseExtendDocument, "extension document");
  const res = await new ApiClient(g).post<Record<string, unknown>>(
    `/v1/sweeps/${encodeURIComponent(id)}/extend${o.dryRun ? "?dryRun=true" : ""}`,
    text,
    contentType,
  );
  if (o.json) return console.log(JSON.stringify(res));
  console.log(`${o.dryRun ? "dry run: would add" : "added"} ${res.added ?? res.trialCount ?? 0} new trials`);
}
