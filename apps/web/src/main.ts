// Dashboard shell: hash routing, token handling and polling. Rendering lives in views.ts, data in api.ts.
//   #/                 sweeps list
//   #/sweeps/<id>      one sweep: Fig. 2, Fig. 3, Fig. 4d, η_opt table, trial curves
//   #/fleet            workers
//   #token=<t>         stores the API token once, then goes to #/

import { TERMINAL_SWEEP_STATUSES } from "@powersweep/spec/status";
import {
  ApiError,
  getFit,
  getSweep,
  getToken,
  getTrial,
  listSweeps,
  listTrials,
  listWorkers,
  setToken,
} from "./api.ts";
import { loadCurveModel } from "./curves.ts";
import { addFigureDownloads, handleDownloadClick } from "./download.ts";
import {
  fleetPage,
  resolveSelection,
  type SweepPageData,
  type SweepSelection,
  sweepPage,
  sweepsPage,
} from "./views.ts";

const POLL_MS = 3000;
const TERMINAL_SWEEP = new Set<string>(TERMINAL_SWEEP_STATUSES);

const main = document.getElementById("main") as HTMLElement;
const statusLine = document.getElementById("status-line") as HTMLElement;
const tokenInput = document.getElementById("token") as HTMLInputElement;

let selection: SweepSelection = { model: null, batchSize: null, tokens: null, trialId: null };
let lastSweepData: SweepPageData | null = null;
let lastHtml = "";
let timer: ReturnType<typeof setTimeout> | null = null;
let generation = 0;

function acceptTokenFromHash(): void {
  const m = location.hash.match(/^#token=([^&]*)/);
  if (m) {
    setToken(decodeURIComponent(m[1] ?? ""));
    history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  }
}

function render(html: string): void {
  // Skip identical re-renders so polling never resets scroll or an open <select>.
  if (html === lastHtml) return;
  lastHtml = html;
  main.innerHTML = html;
  addFigureDownloads(main);
}

function setStatus(text: string, isError = false): void {
  statusLine.textContent = text;
  statusLine.className = isError ? "error" : "muted";
}

function chartWidth(): number {
  // Two charts per row on a laptop screen.
  return Math.floor((Math.min(window.innerWidth, 1600) - 40 - 12) / 2 - 24);
}

async function load(): Promise<{ again: boolean }> {
  const hash = location.hash.replace(/^#/, "") || "/";
  const parts = hash.split("/").filter(Boolean);
  document.querySelectorAll("nav a").forEach((a) => {
    a.classList.toggle("active", (a.getAttribute("href") ?? "") === `#/${parts[0] === "fleet" ? "fleet" : ""}`);
  });
  if (parts[0] === "sweeps" && parts[1]) {
    const id = decodeURIComponent(parts[1]);
    const [sweep, trials, fit] = await Promise.all([getSweep(id), listTrials(id), getFit(id)]);
    const trialId = selection.trialId;
    const trial = trialId ? await getTrial(trialId).catch(() => null) : null;
    const data: SweepPageData = { sweep, trials, fit, trial };
    selection = resolveSelection(data, selection);
    lastSweepData = data;
    render(sweepPage(data, selection, chartWidth()));
    void loadCurveModel(chartWidth(), trial?.metrics ?? []);
    const running = sweep.counts.running + sweep.counts.queued > 0;
    return {
      again:
        running || !TERMINAL_SWEEP.has(sweep.status) || fit == null || (trial != null && trial.status === "running"),
    };
  }
  lastSweepData = null;
  if (parts[0] === "fleet") {
    render(fleetPage(await listWorkers()));
    return { again: true };
  }
  render(sweepsPage(await listSweeps()));
  return { again: true };
}

async function refresh(): Promise<void> {
  const gen = ++generation;
  if (timer) clearTimeout(timer);
  let again = true;
  try {
    const r = await load();
    again = r.again;
    setStatus(`updated ${new Date().toLocaleTimeString()}${again ? " · live" : ""}`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      setStatus("The API refused the token: paste a valid token above.", true);
      render(`<p class="error">Not authorised (${err.status}). Enter an API token in the field at the top.</p>`);
    } else {
      setStatus(`error: ${(err as Error).message}`, true);
    }
  }
  if (gen === generation && again) timer = setTimeout(refresh, POLL_MS);
}

main.addEventListener("change", (ev) => {
  const t = ev.target as HTMLSelectElement;
  const key = t.dataset.sel;
  if (!key) return;
  if (key === "model") selection = { ...selection, model: t.value, batchSize: null, tokens: null };
  if (key === "batchSize") selection = { ...selection, batchSize: Number(t.value) };
  if (key === "tokens") selection = { ...selection, tokens: Number(t.value) };
  if (lastSweepData) {
    selection = resolveSelection(lastSweepData, selection);
    render(sweepPage(lastSweepData, selection, chartWidth()));
    void loadCurveModel(chartWidth(), lastSweepData.trial?.metrics ?? []);
  }
});

main.addEventListener("click", (ev) => {
  if (handleDownloadClick(ev.target as HTMLElement)) return;
  const row = (ev.target as HTMLElement).closest("tr[data-trial]") as HTMLElement | null;
  if (!row) return;
  selection = { ...selection, trialId: row.dataset.trial ?? null };
  void refresh();
});

tokenInput.value = getToken();
tokenInput.addEventListener("change", () => {
  setToken(tokenInput.value.trim());
  void refresh();
});

window.addEventListener("hashchange", () => {
  acceptTokenFromHash();
  tokenInput.value = getToken();
  selection = { model: null, batchSize: null, tokens: null, trialId: null };
  lastHtml = "";
  void refresh();
});

acceptTokenFromHash();
tokenInput.value = getToken();
void refresh();
