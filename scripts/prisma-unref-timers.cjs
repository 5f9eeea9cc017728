// Preloaded into the Prisma CLI process only (scripts/prisma.mjs). The WASM schema engine leaves a
// ~10 s timer behind after its work is done, so every `migrate` command lingered ~10 s before exit.
// Unref'ing long timers lets the process exit once its real work (pg sockets, file I/O) is finished;
// the timers still fire if the process is alive for another reason.
const original = globalThis.setTimeout;
globalThis.setTimeout = function setTimeoutUnrefLong(fn, ms, ...args) {
  const t = original(fn, ms, ...args);
  if (typeof ms === "number" && ms >= 5000 && typeof t?.unref === "function") t.unref();
  return t;
};
