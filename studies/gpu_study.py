#!/usr/bin/env python3
"""The GPU study (docs/gpu-study.md): a power-of-two lr grid of μP proxies (d128–d512) at token
budgets T from 20M to 320M, run with the reference PyTorch trainer, many trials per GPU at once,
on a machine with Python, PyTorch and CUDA only (no Node.js, no network).

    python3 studies/gpu_study.py plan              # what would run, and the estimated time
    python3 studies/gpu_study.py run --out DIR     # corpus → trials → results → import document
    python3 studies/gpu_study.py probe --out DIR   # tokens/s and MFU of 1, 2, 4, 8, 16 trials at once

Everything the TypeScript side does for a trial is done here in Python: the trial configs are the
TrialConfig documents packages/spec defines (a `token-file` corpus, byte tokenizer), and the
corpus is tokenised here (bytes → uint16 tokens, whole files held out). Each trial is one
`train.py` process reading the exec protocol's stdin JSON (docs/exec-protocol.md); its JSON lines
land in DIR/results/<i>.jsonl. The results file is an `import` sweep document:

    powersweep submit DIR/results.json && powersweep fit <id>       # through the API
    npx tsx studies/fit-gpu-study.ts DIR/results.json                 # offline: γ = a·T^b with CIs

The plan keeps the (model, T) cells whose estimated time fits the budget: per trial,
steps × max(FLOPs per step / sustained FLOP/s, step overhead), packed over the slots
(longest first). A wall-clock deadline stops anything still running (those trials are reported
as aborted and left out of the results), so the run ends in time whatever the estimate said.
"""
import argparse
import concurrent.futures
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAIN_PY = HERE.parent / "packages" / "trainer" / "python" / "train.py"

# ----------------------------------------------------------------------------- the grid
def proxy(d_model, layers, base_width, d_head):
    """The paper's proxies (examples/paper-lr-grid.yaml) at `layers` depth: dHead 64, MLP 2.5·d."""
    heads = max(1, d_model // d_head)
    return {
        "name": f"d{d_model}-L{layers}",
        "dModel": d_model,
        "nLayers": layers,
        "nHeads": heads,
        "dHead": d_model // heads,
        "mlpHidden": int(2.5 * d_model),
        "baseWidth": base_width,
    }


def parse_list(text, kind=float):
    return [kind(float(x)) if kind is int else kind(x) for x in text.split(",") if x.strip()]


def trial_configs(a, data):
    """Every trial of the grid: models × tokens × lr × batchSize (one seed), as TrialConfigs."""
    out = []
    for d in parse_list(a.models, int):
        model = proxy(d, a.layers, a.base_width, a.d_head)
        for tokens in parse_list(a.tokens, int):
            for batch in parse_list(a.batch_sizes, int):
                for lr in [2.0**e for e in range(a.lr_exp_from, a.lr_exp_to + 1)]:
                    out.append(
                        {
                            "model": model,
                            "mup": {"initStd": 0.02, "embMultiplier": a.emb_multiplier, "residualMultiplier": 1},
                            "schedule": {
                                "type": "wsd",
                                "lr": lr,
                                "warmupTokens": min(a.warmup_tokens, 0.5 * tokens),
                                "decayFraction": 0.1,
                                "decayShape": "exponential",
                            },
                            "tokens": tokens,
                            "batchSize": batch,
                            "seqLen": a.seq_len,
                            "corpus": {"type": "token-file", **data},
                            "tokenizer": {"type": "byte"},
                            "optimizer": {"beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weightDecay": 0.1},
                            "evalTokens": a.eval_tokens,
                            "seed": 0,
                        }
                    )
    return out


def flops_per_token(model, seq_len, vocab=256):
    """train.py's model_flops_per_token: 6·N(matmuls) + 12·L·A·T."""
    d, L, A, h = model["dModel"], model["nLayers"], model["nHeads"] * model["dHead"], model["mlpHidden"]
    n = L * (d * 3 * A + A * d + d * 2 * h + h * d) + d * vocab
    return 6 * n + 12 * L * A * seq_len


# ----------------------------------------------------------------------------- the plan
def trial_seconds(cfg, a):
    steps = math.ceil(cfg["tokens"] / (cfg["batchSize"] * cfg["seqLen"]))
    per_step = flops_per_token(cfg["model"], cfg["seqLen"]) * cfg["batchSize"] * cfg["seqLen"]
    # each of the `slots` processes gets its share of the device's sustained FLOP/s
    share = a.sustained_tflops * 1e12 / a.slots
    return a.startup_seconds + steps * max(per_step / share, a.step_overhead_ms / 1e3)


def makespan(seconds, slots):
    """Longest-processing-time-first packing of trial times onto `slots` slots."""
    load = [0.0] * slots
    for s in sorted(seconds, reverse=True):
        i = load.index(min(load))
        load[i] += s
    return max(load) if load else 0.0


def plan(configs, a):
    """Drops whole (model, T) cells, most expensive first, until the estimate fits the budget."""
    slots = a.slots * a.gpus
    cells = {}
    for c in configs:
        cells.setdefault((c["model"]["name"], c["tokens"]), []).append(c)
    kept, dropped = dict(cells), []
    while kept:
        est = makespan([trial_seconds(c, a) for cs in kept.values() for c in cs], slots)
        if est <= a.budget_seconds:
            break
        worst = max(kept, key=lambda k: sum(trial_seconds(c, a) for c in kept[k]))
        dropped.append(worst)
        del kept[worst]
    trials = [c for cs in kept.values() for c in cs]
    trials.sort(key=lambda c: -trial_seconds(c, a))  # longest first
    return {
        "trials": trials,
        "estimatedSeconds": makespan([trial_seconds(c, a) for c in trials], slots),
        "kept": sorted(f"{m}@{t / 1e6:g}M" for m, t in kept),
        "dropped": [f"{m}@{t / 1e6:g}M" for m, t in dropped],
        "flops": sum(flops_per_token(c["model"], c["seqLen"]) * c["tokens"] for c in trials),
    }


# ----------------------------------------------------------------------------- the corpus
def stdlib_files():
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages", "test", "tests", "idlelib", "__pycache__"}
    return root, sorted(p for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts))


def build_corpus(out, max_bytes, held_out_every):
    """Byte-level token files from Python's standard library sources (present wherever Python is):
    files in sorted order, a file held out when the hash of its path says so (whole files, as
    packages/data holds out whole documents). Written once; returns the token-file corpus fields."""
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "meta.json"
    if meta_path.exists():
        return json.loads(meta_path.read_text())
    root, files = stdlib_files()
    train, test = bytearray(), bytearray()
    for f in files:
        rel = f.relative_to(root).as_posix()
        text = f.read_bytes() + b"\n"
        held = int(hashlib.sha256(rel.encode()).hexdigest(), 16) % held_out_every == 0
        (test if held else train).extend(text)
        if len(train) + len(test) >= max_bytes:
            break
    for name, raw in (("train.bin", train), ("test.bin", test)):
        tokens = bytearray(2 * len(raw))  # uint16 little-endian: byte b → token b
        tokens[0::2] = raw
        (out / name).write_bytes(bytes(tokens))
    meta = {
        "trainPath": str(out / "train.bin"),
        "testPath": str(out / "test.bin"),
        "dtype": "uint16",
        "vocabSize": 256,
    }
    meta_path.write_text(json.dumps({**meta, "trainTokens": len(train), "testTokens": len(test)}))
    return meta


# ----------------------------------------------------------------------------- running
class Runner:
    """Runs trials as train.py processes, `slots` per GPU, until done or the deadline."""

    def __init__(self, a, out):
        self.a, self.out = a, out
        self.deadline = time.monotonic() + a.deadline_seconds
        self.lock = threading.Lock()
        self.procs = set()
        self.next_slot = 0

    def run_one(self, i, cfg, gpu):
        path = self.out / "results" / f"{i}.jsonl"
        if path.exists():  # resumed: this trial already ran
            return path
        if time.monotonic() >= self.deadline:
            return None
        job = {
            "config": cfg,
            "checkpointDir": None,
            "progressIntervalMs": self.a.progress_ms,
            "runtime": {"compile": self.a.compile, "bf16": True, "fusedAdamw": True},
        }
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": str(gpu), "POWERSWEEP_TORCH_THREADS": str(self.a.cpu_threads)}
        tmp = path.with_suffix(".part")
        with open(tmp, "w") as stdout, open(self.out / "logs" / f"{i}.err", "w") as stderr:
            proc = subprocess.Popen(
                [self.a.python, str(TRAIN_PY)], stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, env=env, text=True
            )
            with self.lock:
                self.procs.add(proc)
            proc.stdin.write(json.dumps(job))
            proc.stdin.close()
            while proc.poll() is None:
                if time.monotonic() >= self.deadline:
                    proc.send_signal(signal.SIGTERM)  # train.py stops after this step: "aborted"
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                    break
                time.sleep(0.2)
            proc.wait()
            with self.lock:
                self.procs.discard(proc)
        tmp.rename(path)
        return path

    def run(self, trials):
        for d in ("results", "logs"):
            (self.out / d).mkdir(parents=True, exist_ok=True)
        slots = self.a.slots * self.a.gpus
        with concurrent.futures.ThreadPoolExecutor(max_workers=slots) as pool:
            futures = [pool.submit(self.run_one, i, c, i % self.a.gpus) for i, c in enumerate(trials)]
            done = 0
            for f in concurrent.futures.as_completed(futures):
                f.result()
                done += 1
                if done % max(1, len(trials) // 20) == 0:
                    print(f"gpu-study: {done}/{len(trials)} trials done", file=sys.stderr, flush=True)


def read_result(path):
    result, error = None, None
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            try:
                m = json.loads(line)
            except json.JSONDecodeError:
                continue
            if m.get("type") == "result":
                result = m
            elif m.get("type") == "error":
                error = m
    return result, error


def collect(trials, out, a, wall_seconds):
    """The import document (succeeded trials) and a summary with throughput per model."""
    rows, per_model, statuses = [], {}, {}
    for i, cfg in enumerate(trials):
        path = out / "results" / f"{i}.jsonl"
        result, error = read_result(path) if path.exists() else (None, None)
        status = result["status"] if result else ("error" if error else "not-run")
        statuses[status] = statuses.get(status, 0) + 1
        if not result:
            continue
        m = per_model.setdefault(cfg["model"]["name"], {"tokensPerSecond": [], "mfu": [], "trials": 0})
        m["trials"] += 1
        m["tokensPerSecond"].append(result.get("tokensPerSecond") or 0)
        if result.get("mfu") is not None:
            m["mfu"].append(result["mfu"])
        if status == "succeeded" and result.get("testLoss"):
            rows.append(
                {
                    "model": cfg["model"]["name"],
                    "dModel": cfg["model"]["dModel"],
                    "tokens": cfg["tokens"],
                    "batchSize": cfg["batchSize"],
                    "lr": cfg["schedule"]["lr"],
                    "seed": cfg["seed"],
                    "testLoss": result["testLoss"],
                    "testPerplexity": result["testPerplexity"],
                    **({"trainLoss": result["trainLoss"]} if result.get("trainLoss") else {}),
                }
            )
    median = lambda xs: sorted(xs)[len(xs) // 2] if xs else None  # noqa: E731
    summary = {
        "wallSeconds": wall_seconds,
        "gpus": a.gpus,
        "slotsPerGpu": a.slots,
        "statuses": statuses,
        "perModel": {
            k: {
                "trials": v["trials"],
                "medianTokensPerSecond": median(v["tokensPerSecond"]),
                "medianMfu": median(v["mfu"]),
                "aggregateTokensPerSecondEstimate": (median(v["tokensPerSecond"]) or 0) * a.slots * a.gpus,
            }
            for k, v in per_model.items()
        },
    }
    doc = {
        "kind": "import",
        "name": f"gpu study {time.strftime('%Y-%m-%d')} ({', '.join(sorted(per_model))})",
        "tags": ["gpu-study"],
        "rows": rows,
    }
    return doc, summary


def probe(a, out, data):
    """Throughput against concurrency: K copies of one trial (the first model, the smallest T, the
    middle lr) at once on one GPU, for each K of --concurrency; aggregate tokens/s and MFU."""
    base = trial_configs(a, data)
    cfg = min(base, key=lambda c: (c["model"]["dModel"], c["tokens"]))
    lrs = sorted({c["schedule"]["lr"] for c in base})
    cfg = {**cfg, "schedule": {**cfg["schedule"], "lr": lrs[len(lrs) // 2]}}
    rows = []
    for k in parse_list(a.concurrency, int):
        run_dir = out / f"probe-{k}"
        started = time.monotonic()
        r = Runner(argparse.Namespace(**{**vars(a), "slots": k, "gpus": 1}), run_dir)
        r.run([cfg] * k)
        wall = time.monotonic() - started
        results = [read_result(run_dir / "results" / f"{i}.jsonl")[0] for i in range(k)]
        results = [x for x in results if x]
        tps = [x.get("tokensPerSecond") or 0 for x in results]
        mfu = [x["mfu"] for x in results if x.get("mfu") is not None]
        rows.append(
            {
                "concurrent": k,
                "finished": len(results),
                "tokensPerSecondPerTrial": sum(tps) / len(tps) if tps else None,
                "aggregateTokensPerSecond": sum(tps),
                "aggregateMfu": sum(mfu) if mfu else None,
                "wallSeconds": wall,
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return {"model": cfg["model"]["name"], "tokens": cfg["tokens"], "lr": cfg["schedule"]["lr"], "rows": rows}


def device_label():
    try:
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(0)} × {torch.cuda.device_count()}, torch {torch.__version__}"
        return f"cpu, torch {torch.__version__}"
    except ImportError:
        return "no torch"


# ----------------------------------------------------------------------------- main
def arguments(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["plan", "run", "probe"])
    p.add_argument("--out", default=str(HERE / "gpu-study"), help="results directory")
    p.add_argument("--models", default="128,256,512", help="dModel values")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--d-head", type=int, default=64)
    p.add_argument("--base-width", type=int, default=256)
    p.add_argument("--emb-multiplier", type=float, default=10.0)
    p.add_argument("--tokens", default="20e6,40e6,80e6,160e6,320e6", help="token budgets T")
    p.add_argument("--batch-sizes", default="32", help="batch sizes β in sequences")
    p.add_argument("--lr-exp-from", type=int, default=-12, help="lr grid 2^from … 2^to")
    p.add_argument("--lr-exp-to", type=int, default=-6)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--warmup-tokens", type=float, default=2e6)
    p.add_argument("--eval-tokens", type=int, default=1 << 20)
    p.add_argument("--gpus", type=int, default=None, help="default: every visible GPU (1 on a CPU)")
    p.add_argument("--slots", type=int, default=16, help="concurrent trials per GPU")
    p.add_argument("--cpu-threads", type=int, default=1, help="torch threads per trial process")
    p.add_argument("--budget-seconds", type=float, default=400, help="the plan keeps what fits this")
    p.add_argument("--deadline-seconds", type=float, default=450, help="running trials are stopped at this")
    p.add_argument("--sustained-tflops", type=float, default=250.0, help="plan: device FLOP/s all slots share")
    p.add_argument("--step-overhead-ms", type=float, default=6.0, help="plan: least time per step and process")
    p.add_argument("--startup-seconds", type=float, default=8.0, help="plan: process start, data, eval")
    p.add_argument("--corpus-bytes", type=float, default=64e6, help="at most this much stdlib source")
    p.add_argument("--held-out-every", type=int, default=50, help="one file in N is held out")
    p.add_argument("--progress-ms", type=int, default=5000)
    p.add_argument("--compile", action="store_true", help="torch.compile each trial's model")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--concurrency", default="1,2,4,8,16", help="probe: concurrent trials per GPU")
    a = p.parse_args(argv)
    if a.gpus is None:
        try:
            import torch

            a.gpus = max(1, torch.cuda.device_count())
        except ImportError:
            a.gpus = 1
    return a


def main(argv):
    a = arguments(argv)
    out = Path(a.out)
    placeholder = {"trainPath": "train.bin", "testPath": "test.bin", "dtype": "uint16", "vocabSize": 256}
    p = plan(trial_configs(a, placeholder), a)
    head = {
        "device": device_label(),
        "trials": len(p["trials"]),
        "kept": p["kept"],
        "dropped": p["dropped"],
        "estimatedSeconds": round(p["estimatedSeconds"], 1),
        "modelFlops": p["flops"],
    }
    if a.mode == "plan":
        print(json.dumps(head, indent=2), flush=True)
        return 0
    print(json.dumps(head, indent=2), file=sys.stderr, flush=True)
    started = time.monotonic()
    data = build_corpus(out / "corpus", int(a.corpus_bytes), a.held_out_every)
    if a.mode == "probe":
        result = {"device": head["device"], **probe(a, out, data)}
        (out / "probe.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return 0
    for c in p["trials"]:
        c["corpus"] = {"type": "token-file", **data}
    (out / "trials.json").write_text(json.dumps(p["trials"]))
    Runner(a, out).run(p["trials"])
    doc, summary = collect(p["trials"], out, a, time.monotonic() - started)
    summary = {**head, **summary}
    (out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"gpu-study: {len(doc['rows'])} results in {out / 'results.json'}", file=sys.stderr)
    if not doc["rows"]:
        print("gpu-study: no trial finished; results.json has no rows to import", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
