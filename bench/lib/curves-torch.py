#!/usr/bin/env python3
"""Trains the loss-curve benchmark's PyTorch runs (jobs from bench/lib/curves-torch-jobs.ts) with the
reference trainer (packages/trainer/python/train.py, imported, its run_trial unchanged), several
processes sharing one GPU, and appends each run's result (final test loss and stored curve) as one
JSON line to <out>/runs.jsonl as it finishes.
  python3 bench/lib/curves-torch.py <jobs dir> <out dir> [workers]
"""
import importlib.util
import json
import multiprocessing as mp
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN_PY = os.environ.get("CURVES_TRAIN_PY") or os.path.join(HERE, "..", "..", "packages", "trainer", "python", "train.py")


def worker(jobs_dir, queue, results):
    spec = importlib.util.spec_from_file_location("train", TRAIN_PY)
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    train.emit = lambda obj: None  # the progress lines: only the result is kept
    import torch

    torch.set_num_threads(1)
    while True:
        item = queue.get()
        if item is None:
            return
        job = item["job"]
        job["data"] = {**job["data"], "trainPath": os.path.join(jobs_dir, job["data"]["trainPath"]),
                       "testPath": os.path.join(jobs_dir, job["data"]["testPath"])}
        try:
            r = train.run_trial(job, {"requested": False}, train.runtime_options([], {}, job))
            cfg = job["config"]
            results.put({"id": item["id"], "schedule": cfg["schedule"], "tokens": cfg["tokens"], "seed": cfg["seed"],
                         "batchSize": cfg["batchSize"], "seqLen": cfg["seqLen"], "status": r["status"],
                         "testLoss": r.get("testLoss"), "steps": r["steps"], "wallSeconds": r["wallSeconds"],
                         "backend": r["backend"], "curve": r["curve"]})
        except Exception as e:  # report and go on with the next run
            results.put({"id": item["id"], "error": repr(e)})


def main():
    jobs_dir, out_dir = os.path.abspath(sys.argv[1]), sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else max(1, (os.cpu_count() or 2) - 2)
    jobs = json.load(open(os.path.join(jobs_dir, "jobs.json")))
    ctx = mp.get_context("spawn")
    queue, results = ctx.Queue(), ctx.Queue()
    for j in jobs:
        queue.put(j)
    for _ in range(n):
        queue.put(None)
    procs = [ctx.Process(target=worker, args=(jobs_dir, queue, results)) for _ in range(n)]
    for p in procs:
        p.start()
    started = time.time()
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "runs.jsonl"), "a") as f:
        for i in range(len(jobs)):
            r = results.get()
            f.write(json.dumps(r) + "\n")
            f.flush()
            print(f"{i + 1}/{len(jobs)} {time.time() - started:.0f}s {r['id']} "
                  f"{r.get('testLoss', r.get('error'))} ({r.get('wallSeconds', 0):.1f}s)", flush=True)
    for p in procs:
        p.join()


if __name__ == "__main__":
    main()
