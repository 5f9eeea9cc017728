#!/usr/bin/env python3
"""The reference PyTorch trainer for powersweep's exec protocol (docs/exec-protocol.md).

Reads ONE JSON object on stdin, trains the same μP GPT as packages/model (TensorFlow.js), and writes
JSON lines on stdout: {"type": "progress", ...} then {"type": "result", ...} or {"type": "error", ...}.
Standalone: only torch + the standard library. Uses CUDA when available (bf16 autocast, TF32, fused
AdamW, optional torch.compile, batches prepared ahead; see setup_device), else CPU.

Mirrors packages/trainer/src/tfjs.ts:
  steps      = ceil(tokens / (batchSize·seqLen)); each step sees batchSize·seqLen tokens
  lr(step)   = schedule(tokens seen before the step)
  batches    = packages/data createBatchLoader: window starts from mulberry32(mixSeed(seed, step))
  trainLoss  = mean of the last TRAIN_LOSS_WINDOW step losses
  testLoss   = Σ per-token CE over exactly evalTokens held-out targets / evalTokens, in the windows the
               job's evalWindows names (packages/data evalWindows: spread evenly over the held-out text)
  perplexity = exp(testLoss)
  curve      = train loss and lr at curve_steps, held-out subset loss at eval_steps (curve.ts)

Other modes (for cross-checks with the TypeScript side):
  train.py --print-schedule   stdin {"schedule", "totalTokens", "batchSize", "tokens": [n...]}
                              stdout {"lrs": [η(n)...]}
  train.py --print-curve-steps stdin {"cases": [{"totalSteps", "decayStartStep"}...]}
                              stdout {"cases": [{"curveSteps": [..], "evalSteps": [..]}...]}
  train.py --print-eval-set   stdin: a trial's job; stdout {"subset": {"inputs", "targets"}, "rest": {...}}:
                              the counted (input, target) token pairs the evaluation uses, in order
  train.py --print-openblas-env  no stdin; stdout {"OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE"?}: the
                              environment this script gives OpenBLAS (the benchmark gives it to the
                              stand-alone reference script too)
"""
import json
import math
import os
import shutil
import signal
import sys
import time
import uuid



def openblas_coretype(cpuinfo_path="/proc/cpuinfo"):
    """The OpenBLAS kernel family this CPU's instruction set supports, or None.

    OpenBLAS picks its kernels from the CPU's family and model; on a model it does not know (a VM
    reporting a generic "Intel Xeon Processor", say) it falls back to Prescott (SSE3) kernels,
    measured 3.5x slower on this trainer at d64 than SkylakeX on the same AVX-512 machine. The
    instruction-set flags say what the CPU can run whatever its name.
    """
    try:
        with open(cpuinfo_path) as f:
            line = next((x for x in f if x.startswith("flags")), "")
    except OSError:
        return None
    flags = set(line.partition(":")[2].split())
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


# Both are read by OpenBLAS when torch loads it, so they are set before torch is imported; a value
# the caller set wins. Debian's torch + OpenBLAS: 1 BLAS thread, torch's own threads do the rest.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
if "OPENBLAS_CORETYPE" not in os.environ and (coretype := openblas_coretype()):
    os.environ["OPENBLAS_CORETYPE"] = coretype

TRAIN_LOSS_WINDOW = 10
DIVERGENCE_FACTOR = 2.0  # packages/trainer/src/divergence.ts
DIVERGENCE_MARGIN_NATS = 3.0
CHECKPOINT_FILE = "torch-checkpoint.pt"
U32 = 0xFFFFFFFF


class InvalidConfig(Exception):
    """The config cannot be trained; retrying will not help (→ InvalidConfigError on the Node side)."""


def finite_or_none(x):
    return x if x is not None and math.isfinite(x) else None


def emit(obj):
    sys.stdout.write(json.dumps(obj, allow_nan=False) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- schedules (packages/schedules)
EXPONENTIAL_DECAY_RATE = 5.0  # packages/schedules EXPONENTIAL_DECAY_RATE


def decay_factor(shape, p):
    """f in eqs. 2 and 8 at progress p ∈ [0, 1] through the decay: 1 at p = 0, 0 at p = 1
    (Hägele et al. cooldown shapes; identical to decayFactor in packages/schedules)."""
    if shape == "linear":
        return 1.0 - p
    if shape == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    if shape == "one-minus-sqrt":
        return 1.0 - math.sqrt(p)
    if shape == "exponential":
        # a true exponential shifted and rescaled so that f(0) = 1 and f(1) = 0 exactly
        end = math.exp(-EXPONENTIAL_DECAY_RATE)
        return (math.exp(-EXPONENTIAL_DECAY_RATE * p) - end) / (1.0 - end)
    raise InvalidConfig(f"schedule.decayShape: unknown shape {shape!r}")


def make_schedule(spec, total_tokens, batch_size):
    """η as a function of tokens seen n; mirrors createSchedule in packages/schedules (n is clamped
    into [0, N], so a last step that overshoots N gets the final lr)."""
    kind = spec.get("type")
    N = float(total_tokens)
    if not N > 0:
        raise InvalidConfig(f"schedule: totalTokens must be > 0 (got {N})")
    warmup = float(spec.get("warmupTokens", 0))
    if not (math.isfinite(warmup) and 0 <= warmup <= N):
        raise InvalidConfig(f"schedule: warmupTokens ({warmup}) must lie in [0, totalTokens={N}]")

    def clamp(n):
        return 0.0 if n <= 0 else N if n >= N else float(n)

    if kind == "constant":
        lr = spec["lr"]
        return lambda tokens: (lambda n: lr * n / warmup if n < warmup else lr)(clamp(tokens))
    if kind == "cosine":
        lr, floor = spec["lr"], spec.get("minLrRatio", 0.0)
        if warmup >= N:
            raise InvalidConfig(f"schedule: warmupTokens ({warmup}) must be less than totalTokens ({N}) for cosine")
        span = N - warmup

        def cosine(tokens):
            n = clamp(tokens)
            if n < warmup:
                return lr * n / warmup
            return lr * (floor + (1.0 - floor) * decay_factor("cosine", (n - warmup) / span))

        return cosine
    if kind not in ("wsd", "power"):
        raise InvalidConfig(f"schedule.type: unknown schedule {kind!r}")
    decay_tokens = float(spec["decayFraction"]) * N
    decay_start = N - decay_tokens  # N − N_decay
    if warmup > decay_start:
        raise InvalidConfig(f"schedule: warmupTokens ({warmup}) + decay ({decay_tokens}) exceed totalTokens ({N})")
    shape = spec["decayShape"]
    decay_factor(shape, 0.0)  # validate the shape now
    if kind == "wsd":  # eq. 2
        lr = spec["lr"]
        peak, decay_from = lr, lr

        def stable(n):
            return lr

    else:  # eq. 8 around eq. 7
        a, b, eta_max = spec["powerA"], spec["powerB"], spec["etaMax"]

        def stable(n):  # eq. 7: η_power(n) = min(η_max, β·a·n^b); n = 0 gives η_max
            return eta_max if n <= 0 else min(eta_max, batch_size * a * n**b)

        peak, decay_from = stable(warmup), stable(decay_start)  # η_power(N_warmup), η_power(N − N_decay)

    def schedule(tokens):
        n = clamp(tokens)
        if n < warmup:
            return peak * n / warmup
        if n <= decay_start:
            return stable(n)
        return decay_from * decay_factor(shape, (n - decay_start) / decay_tokens)

    return schedule


# ---------------------------------------------------------------- data order (packages/data random.ts)
def imul(a, b):
    return (a * b) & U32


def mix_seed(a, b):
    """murmur3 finaliser; bit-identical to mixSeed in packages/data/src/random.ts."""
    h = (imul(a & U32, 0x9E3779B1) ^ (b & U32)) & U32
    h ^= h >> 16
    h = imul(h, 0x85EBCA6B)
    h ^= h >> 13
    h = imul(h, 0xC2B2AE35)
    h ^= h >> 16
    return h


def mulberry32(seed):
    state = seed & U32

    def rand():
        nonlocal state
        state = (state + 0x6D2B79F5) & U32
        t = state
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & U32
        return ((t ^ (t >> 14)) & U32) / 4294967296.0

    return rand


def window_starts(seed, step, batch_size, stream_length, seq_len):
    """createBatchLoader: batch `step` depends only on (seed, step), so resuming is exact."""
    rand = mulberry32(mix_seed(seed, step))
    starts = stream_length - seq_len
    return [math.floor(rand() * starts) for _ in range(batch_size)]


def read_tokens(torch, path, dtype, vocab_size):
    try:
        with open(path, "rb") as f:
            raw = bytearray(f.read())
    except OSError as e:
        raise InvalidConfig(f"data: cannot read {path} ({e.strerror})")
    width = 2 if dtype == "uint16" else 4
    if len(raw) == 0:
        raise InvalidConfig(f"data: {path} is empty")
    if dtype not in ("uint16", "uint32") or len(raw) % width:
        raise InvalidConfig(f"data: {path} has {len(raw)} bytes, not a whole number of {dtype} tokens")
    if dtype == "uint16":  # torch 1.13 has no uint16: read int16 and mask (little-endian files)
        ids = torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) & 0xFFFF
    else:
        ids = (torch.frombuffer(raw, dtype=torch.int32).to(torch.int64) & U32).to(torch.int32)
    if ids.numel() and int(ids.max()) >= vocab_size:
        raise InvalidConfig(f"data: {path} holds a token id ≥ vocabSize {vocab_size}")
    return ids


# ---------------------------------------------------------------- held-out windows (packages/data batches.ts)
EVAL_SUBSET_EVERY = 4  # packages/data EVAL_SUBSET_EVERY: the windows evaluated during training


def eval_windows(test_length, eval_tokens, seq_len):
    """evalWindows: ceil(evalTokens/seqLen) windows spread evenly over the test stream, as
    [start, counted targets]; only used when the job does not name its windows."""
    count = math.ceil(eval_tokens / seq_len)
    last = eval_tokens - (count - 1) * seq_len
    span = test_length - 1 - last
    return [
        [0 if count == 1 else math.floor(float(w * span) / float(count - 1)), last if w == count - 1 else seq_len]
        for w in range(count)
    ]


def eval_sets(torch, test, windows, seq_len, every=EVAL_SUBSET_EVERY):
    """(subset, rest): windows w % every == 0 (evaluated during training) and the others, each as
    (ids, targets, mask) tensors of shape (n, seq_len); padding past a window's targets has mask 0."""

    def pack(ws):
        ids = torch.zeros(len(ws), seq_len, dtype=torch.long)
        targets = torch.zeros(len(ws), seq_len, dtype=torch.long)
        mask = torch.zeros(len(ws), seq_len)
        for r, (start, counted) in enumerate(ws):
            if not (1 <= counted <= seq_len and start >= 0 and start + counted + 1 <= test.numel()):
                raise InvalidConfig(f"eval window (start {start}, {counted} targets) does not fit the test stream")
            ids[r, :counted] = test[start : start + counted]
            targets[r, :counted] = test[start + 1 : start + counted + 1]
            mask[r, :counted] = 1.0
        return ids, targets, mask

    return pack([w for i, w in enumerate(windows) if i % every == 0]), pack(
        [w for i, w in enumerate(windows) if i % every != 0]
    )


# ---------------------------------------------------------------- dense curve (packages/trainer/src/curve.ts)
CURVE_LINEAR_POINTS = 150
CURVE_LOG_POINTS = 106
CURVE_LOG_RATIO = 9 / 8
CURVE_LOG_SPAN_STRIDES = 8
EVAL_FRACTIONS = 5


def curve_steps(total_steps):
    """curveSteps: every step of a short run; else log-spaced early + CURVE_LINEAR_POINTS evenly spaced."""
    if total_steps <= CURVE_LINEAR_POINTS + CURVE_LOG_POINTS:
        return list(range(1, total_steps + 1))
    stride = -(-total_steps // CURVE_LINEAR_POINTS)
    steps = set()
    log_end = min(total_steps, CURVE_LOG_SPAN_STRIDES * stride)
    s, n = 1, 0
    while s < log_end and n < CURVE_LOG_POINTS:
        steps.add(s)
        s = max(s + 1, math.floor(s * CURVE_LOG_RATIO))
        n += 1
    steps.update(range(stride, total_steps, stride))
    steps.add(total_steps)
    return sorted(steps)


def decay_start_step(spec, total_tokens, tokens_per_step):
    """decayStartStep: steps taken when the lr starts to decay (wsd/power with a decay), else None."""
    if spec.get("type") not in ("wsd", "power") or not spec.get("decayFraction", 0) > 0:
        return None
    n = float(total_tokens)
    return math.floor((n - float(spec["decayFraction"]) * n) / tokens_per_step) + 1


def eval_steps(total_steps, decay_start):
    """evalSteps: after ceil(k·S/EVAL_FRACTIONS) steps (k = 1…EVAL_FRACTIONS) and at the decay's start."""
    steps = {-(-(k * total_steps) // EVAL_FRACTIONS) for k in range(1, EVAL_FRACTIONS + 1)}
    if decay_start is not None and 1 <= decay_start <= total_steps:
        steps.add(decay_start)
    return sorted(s for s in steps if s >= 1)


class CurveRecorder:
    """CurveRecorder (curve.ts) of a decay branch the run writes a checkpoint for: the branch's own
    curve_steps/eval_steps grid, fed the shared steps' losses (docs/branches.md)."""

    def __init__(self, cfg, curve, pending):
        tokens_per_step = cfg["batchSize"] * cfg["seqLen"]
        self.total_steps = math.ceil(cfg["tokens"] / tokens_per_step)
        self.record_at = set(curve_steps(self.total_steps))
        self.eval_at = set(
            eval_steps(self.total_steps, decay_start_step(cfg["schedule"], cfg["tokens"], tokens_per_step))
        )
        self.curve, self.pending = curve, pending

    def on_step(self, step, tokens, lr, loss):
        if math.isfinite(loss):
            self.pending[0] += loss
            self.pending[1] += 1
        if step in self.record_at:
            self.curve["step"].append(step)
            self.curve["tokens"].append(tokens)
            self.curve["lr"].append(lr)
            p = self.pending
            self.curve["trainLoss"].append(finite_or_none(p[0] / p[1]) if p[1] else None)
            self.pending = [0.0, 0]

    def eval_due(self, step):
        return step < self.total_steps and step in self.eval_at

    def on_eval(self, step, tokens, loss):
        self.curve["eval"]["step"].append(step)
        self.curve["eval"]["tokens"].append(tokens)
        self.curve["eval"]["loss"].append(finite_or_none(loss))


def same_config(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def check_branches(cfg, branches, total_steps):
    """The Node side checks trunkKey and sharedSteps (packages/trainer/src/branches.ts); a job written
    by hand gets these basic checks."""
    for b in branches:
        bc = b.get("config") or {}
        if not (isinstance(b.get("step"), int) and 1 <= b["step"] <= total_steps and b.get("dir")):
            raise InvalidConfig(f"branch checkpoint {b.get('step')!r}: step must be an integer in [1, {total_steps}]")
        for key in ("batchSize", "seqLen", "seed", "model", "mup", "optimizer", "corpus", "tokenizer", "evalTokens"):
            if json.dumps(bc.get(key), sort_keys=True) != json.dumps(cfg.get(key), sort_keys=True):
                raise InvalidConfig(f"branch checkpoint at step {b['step']}: its config differs in {key}")
    return sorted(branches, key=lambda b: b["step"])


# ---------------------------------------------------------------- model (packages/model/src/gpt.ts)
def build_model(torch, cfg, vocab_size, seq_len, seed):
    """μP GPT, Table 1 of 2408.13359. Returns (params dict, forward(ids) → logits, param groups)."""
    nn, F = torch.nn, torch.nn.functional
    shape, mup = cfg["model"], cfg["mup"]
    d, L, H, dh, hid = shape["dModel"], shape["nLayers"], shape["nHeads"], shape["dHead"], shape["mlpHidden"]
    A = H * dh  # attention width
    V, T = vocab_size, seq_len
    m_width = d / shape["baseWidth"]  # m_width = d_model / d_base
    init_std = mup["initStd"]
    hidden_std = init_std / math.sqrt(m_width)  # Table 1: internal matrices
    m_emb, m_res = mup["embMultiplier"], mup["residualMultiplier"]

    gen = torch.Generator().manual_seed(seed)  # init on CPU: identical weights on CPU and CUDA
    params = {}

    def normal(name, *size, std):
        params[name] = nn.Parameter(torch.randn(*size, generator=gen) * std)

    def ones(name, n):
        params[name] = nn.Parameter(torch.ones(n))

    normal("wte", V, d, std=init_std)  # input embedding: not a hidden matrix
    normal("wpe", T, d, std=init_std)  # learned positions: embedding-like
    for l in range(L):
        ones(f"h{l}.attnNorm", d)
        normal(f"h{l}.wqkv", d, 3 * A, std=hidden_std)  # fused q|k|v
        normal(f"h{l}.wo", A, d, std=hidden_std)
        ones(f"h{l}.mlpNorm", d)
        normal(f"h{l}.w13", d, 2 * hid, std=hidden_std)  # fused SwiGLU gate|up
        normal(f"h{l}.w2", hid, d, std=hidden_std)
    ones("normF", d)
    normal("head", d, V, std=init_std)  # output embedding (untied): not a hidden matrix

    hidden = [n for n in params if n.rsplit(".", 1)[-1] in ("wqkv", "wo", "w13", "w2")]
    groups = [
        # hidden matrices: lr η/m_width (Table 1), decoupled weight decay
        {"name": "hidden", "names": hidden, "lrScale": 1.0 / m_width, "weightDecay": True},
        # embeddings, positions, norm gains, output head: lr η, no weight decay
        {"name": "other", "names": [n for n in params if n not in hidden], "lrScale": 1.0, "weightDecay": False},
    ]
    sdpa = getattr(F, "scaled_dot_product_attention", None)  # torch ≥ 2.0
    q_scale = 1.0 / dh  # μP: q·k / d_head (not √d_head)

    def rms_norm(x, gain, eps=1e-6):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * gain

    masks = {}

    def attention(h, l):
        B = h.shape[0]
        q, k, v = (h @ params[f"h{l}.wqkv"]).split(A, -1)  # (B, T, A) each
        q, k, v = (t.view(B, T, H, dh).transpose(1, 2) for t in (q, k, v))  # (B, H, T, dh)
        if sdpa is not None:
            # sdpa divides by √dh; pre-scale q by √dh/dh so the logits are q·k/dh
            y = sdpa(q * (math.sqrt(dh) * q_scale), k, v, is_causal=True)
        else:
            mask = masks.get(q.device)
            if mask is None:
                mask = masks[q.device] = torch.full((T, T), float("-inf"), device=q.device).triu(1)
            att = torch.softmax((q * q_scale) @ k.transpose(-1, -2) + mask, -1)  # (B, H, T, T)
            y = att @ v  # (B, H, T, dh)
        return y.transpose(1, 2).reshape(B, T, A) @ params[f"h{l}.wo"]  # (B, T, d)

    def mlp(h, l):
        gate, up = (h @ params[f"h{l}.w13"]).split(hid, -1)  # (B, T, hid) each
        return (F.silu(gate) * up) @ params[f"h{l}.w2"]  # (B, T, d)

    def forward(ids):
        x = (params["wte"][ids] + params["wpe"]) * m_emb  # (B, T, d); × m_emb (Table 1)
        for l in range(L):
            x = x + attention(rms_norm(x, params[f"h{l}.attnNorm"]), l) * m_res  # × m_res before the add
            x = x + mlp(rms_norm(x, params[f"h{l}.mlpNorm"]), l) * m_res
        return (rms_norm(x, params["normF"]) / m_width) @ params["head"]  # μP readout: logits × 1/m_width

    return params, forward, groups


# ---------------------------------------------------------------- device, precision, throughput
# Everything that differs between CPU and CUDA lives here. On CUDA: TF32 matmuls, bf16 autocast for
# the training forward pass, fused AdamW, optional torch.compile, batches prepared ahead. On CPU the
# options are accepted and change nothing (a test keeps the CPU losses bit-identical with them set).

# Dense bf16 peak FLOP/s per GPU (tensor cores, no sparsity), for model FLOPs utilisation. The name
# is matched against torch.cuda.get_device_name(); --peak-tflops / POWERSWEEP_PEAK_TFLOPS override.
PEAK_BF16_FLOPS = (
    ("H200", 989e12),
    ("H100", 989e12),  # SXM; the PCIe card is lower (756e12): pass --peak-tflops
    ("GH200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
    ("V100", 125e12),  # fp16: V100 has no bf16
)


def runtime_options(argv, env, job):
    """The CUDA-side options: command-line flags, else the job's "runtime" object, else env.
    compile: torch.compile the training forward (CUDA only; off by default: it costs ~1 min of
    compilation, worth it for long trials). bf16: autocast (default on with CUDA). prefetch: batches
    prepared ahead by a thread (default 4 on CUDA, 0 on CPU). peakFlops: the device's peak for MFU."""
    given = dict(job.get("runtime") or {})

    def flag(name, key, default, env_name):
        if f"--{name}" in argv:
            return True
        if f"--no-{name}" in argv:
            return False
        if key in given:
            return bool(given[key])
        if env_name in env:
            return env[env_name] not in ("", "0", "false", "off")
        return default

    def value(name, key, env_name):
        if f"--{name}" in argv:
            i = argv.index(f"--{name}")
            return float(argv[i + 1]) if i + 1 < len(argv) else None
        if given.get(key) is not None:
            return float(given[key])
        return float(env[env_name]) if env.get(env_name) else None

    tflops = value("peak-tflops", "peakTflops", "POWERSWEEP_PEAK_TFLOPS")
    prefetch = value("prefetch", "prefetch", "POWERSWEEP_PREFETCH")
    return {
        "compile": flag("compile", "compile", False, "POWERSWEEP_TORCH_COMPILE"),
        "bf16": flag("bf16", "bf16", True, "POWERSWEEP_BF16"),
        "tf32": flag("tf32", "tf32", True, "POWERSWEEP_TF32"),
        "fusedAdamw": flag("fused-adamw", "fusedAdamw", True, "POWERSWEEP_FUSED_ADAMW"),
        "prefetch": int(prefetch) if prefetch is not None else None,
        "peakFlops": tflops * 1e12 if tflops else None,
    }


def setup_device(torch, opts):
    """(device, backend label, peak FLOP/s or None). CUDA when available, TF32 matmuls on it."""
    if not torch.cuda.is_available():
        torch.set_num_threads(int(os.environ.get("POWERSWEEP_TORCH_THREADS", os.cpu_count() or 1)))
        return "cpu", f"torch-{torch.__version__}-cpu", opts["peakFlops"]
    if opts["tf32"]:
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 matmuls outside autocast (eval, optimizer)
        torch.backends.cudnn.allow_tf32 = True
    name = torch.cuda.get_device_name(0)
    peak = opts["peakFlops"] or next((f for key, f in PEAK_BF16_FLOPS if key in name), None)
    return "cuda", f"torch-{torch.__version__}-cuda-{name.replace(' ', '_')}", peak


def autocast_context(torch, device, opts):
    """bf16 autocast for the training forward pass on CUDA; nothing on CPU."""
    import contextlib

    if device == "cuda" and opts["bf16"]:
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_optimizer(torch, param_groups, opt_cfg, device, opts):
    """torch.optim.AdamW over the μP groups; fused (one kernel for all tensors) on CUDA when this
    torch has it. The update is the same AdamW either way."""
    import inspect

    kwargs = {"betas": (opt_cfg["beta1"], opt_cfg["beta2"]), "eps": opt_cfg["eps"]}
    if device == "cuda" and opts["fusedAdamw"] and "fused" in inspect.signature(torch.optim.AdamW).parameters:
        kwargs["fused"] = True
    return torch.optim.AdamW(param_groups, **kwargs)


def maybe_compile(torch, forward, device, opts):
    """torch.compile(forward) on CUDA when asked and available (torch ≥ 2.0); else forward itself."""
    if device == "cuda" and opts["compile"] and hasattr(torch, "compile"):
        return torch.compile(forward)
    return forward


class BatchStarts:
    """Window starts of each step (window_starts), prepared `ahead` steps in advance by a thread
    into pinned memory and copied to the device without blocking, so the GPU does not wait on the
    Python PRNG between steps. The numbers are those of window_starts(seed, step, …) whatever the
    device or depth (ahead = 0, the CPU default: computed in the loop)."""

    def __init__(self, torch, seed, batch_size, stream_length, seq_len, device, ahead):
        self.torch, self.device = torch, device
        self.args = (batch_size, stream_length, seq_len)
        self.seed = seed
        self.ahead = ahead if ahead is not None else (4 if device == "cuda" else 0)
        self.pending = {}
        self.pool = None
        if self.ahead > 0:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(max_workers=1)

    def _host(self, step):
        t = self.torch.tensor(window_starts(self.seed, step, *self.args), dtype=self.torch.long)
        return t.pin_memory() if self.device == "cuda" else t

    def get(self, step, last_step):
        if self.pool is None:
            return self._host(step).to(self.device)
        for s in range(step, min(step + self.ahead + 1, last_step)):
            if s not in self.pending:
                self.pending[s] = self.pool.submit(self._host, s)
        host = self.pending.pop(step).result() if step in self.pending else self._host(step)
        return host.to(self.device, non_blocking=True)

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)


def model_flops_per_token(cfg, seq_len, vocab_size):
    """Training FLOPs per token: 6·N for the matmul parameters N (hidden matrices and the output
    head; embedding lookups are not matmuls) plus 12·L·A·T for the attention scores and their
    application (forward + backward, PaLM's count, not halved for the causal mask)."""
    shape = cfg["model"]
    d, L, A, hid = shape["dModel"], shape["nLayers"], shape["nHeads"] * shape["dHead"], shape["mlpHidden"]
    n_matmul = L * (d * 3 * A + A * d + d * 2 * hid + hid * d) + d * vocab_size
    return 6 * n_matmul + 12 * L * A * seq_len


def throughput_report(cfg, seq_len, vocab_size, tokens_per_second, peak_flops):
    """tokens/s, model FLOP/s and MFU (model FLOP/s ÷ the device's peak; null when unknown)."""
    per_token = model_flops_per_token(cfg, seq_len, vocab_size)
    flops = per_token * tokens_per_second
    return {
        "flopsPerToken": per_token,
        "modelFlopsPerSecond": flops,
        "mfu": flops / peak_flops if peak_flops else None,
    }


# ---------------------------------------------------------------- the trial
def validate(cfg):
    shape = cfg["model"]
    for key in ("dModel", "nLayers", "nHeads", "dHead", "mlpHidden", "baseWidth"):
        if not isinstance(shape.get(key), int) or shape[key] < 1:
            raise InvalidConfig(f"config.model.{key} must be a positive integer")
    for key in ("embMultiplier", "residualMultiplier", "initStd"):
        if not (isinstance(cfg["mup"].get(key), (int, float)) and cfg["mup"][key] > 0):
            raise InvalidConfig(f"config.mup.{key} must be positive")
    if cfg["tokenizer"]["type"] != "byte" and cfg["corpus"]["type"] == "token-file":
        raise InvalidConfig("token-file corpora are already tokenised; use the byte tokenizer")


def weight_decay_of(group, opt_cfg):
    """torch AdamW weight_decay of a parameter group: λ/lrScale for decayed groups (μP hidden matrices
    λ·m_width), so that the per-step decay lr_group·weight_decay = η·λ does not depend on width."""
    return opt_cfg["weightDecay"] / group["lrScale"] if group["weightDecay"] else 0.0


def run_trial(job, stop, opts=None):
    import torch

    started = time.perf_counter()
    cfg = job["config"]
    validate(cfg)
    data = job.get("data") or (cfg["corpus"] if cfg["corpus"]["type"] == "token-file" else None)
    if data is None:
        raise InvalidConfig("no token files: the stdin JSON needs data {trainPath, testPath, dtype, vocabSize}")
    opts = opts or runtime_options([], {}, job)
    device, backend, peak_flops = setup_device(torch, opts)

    batch_size, seq_len, seed = cfg["batchSize"], cfg["seqLen"], cfg["seed"]
    vocab_size = int(data["vocabSize"])
    train = read_tokens(torch, data["trainPath"], data["dtype"], vocab_size)
    test = read_tokens(torch, data["testPath"], data["dtype"], vocab_size)
    if train.numel() < seq_len + 1:
        raise InvalidConfig(f"seqLen {seq_len} needs {seq_len + 1} training tokens; the corpus has {train.numel()}")
    eval_tokens = cfg["evalTokens"]
    if test.numel() < seq_len + 1:
        raise InvalidConfig(f"seqLen {seq_len} is longer than the test stream allows ({test.numel()} tokens)")
    if eval_tokens > test.numel() - 1:
        raise InvalidConfig(f"evalTokens {eval_tokens} exceeds the held-out targets available ({test.numel() - 1})")
    windows = job.get("evalWindows") or eval_windows(test.numel(), eval_tokens, seq_len)
    if sum(c for _, c in windows) != eval_tokens:
        raise InvalidConfig(f"evalWindows count {sum(c for _, c in windows)} targets, not evalTokens {eval_tokens}")
    subset_set, rest_set = eval_sets(torch, test, windows, seq_len, job.get("evalSubsetEvery", EVAL_SUBSET_EVERY))
    subset_targets = int(subset_set[2].sum())
    schedule = make_schedule(cfg["schedule"], cfg["tokens"], batch_size)

    tokens_per_step = batch_size * seq_len
    total_steps = math.ceil(cfg["tokens"] / tokens_per_step)
    record_at = set(curve_steps(total_steps))
    eval_at = set(eval_steps(total_steps, decay_start_step(cfg["schedule"], cfg["tokens"], tokens_per_step)))
    params, forward, groups = build_model(torch, cfg, vocab_size, seq_len, seed)
    for p in params.values():
        p.data = p.data.to(device)
    opt_cfg = cfg["optimizer"]
    optimizer = make_optimizer(
        torch,
        [
            {
                "params": [params[n] for n in g["names"]],
                "lr": 0.0,
                # torch decays by lr_group·weight_decay = (η·lrScale)·(λ/lrScale) = η·λ: width-independent
                # under μP, as mup's MuAdamW (weight_decay × width multiplier); docs/weight-decay.md
                "weight_decay": weight_decay_of(g, opt_cfg),
                "lrScale": g["lrScale"],
            }
            for g in groups
        ],
        opt_cfg,
        device,
        opts,
    )
    train_dev = train.to(device)
    offsets = torch.arange(seq_len + 1, device=device)
    train_forward = maybe_compile(torch, forward, device, opts)
    batch_starts = BatchStarts(torch, seed, batch_size, train.numel(), seq_len, device, opts["prefetch"])

    state = {
        "step": 0,
        "tokensSeen": 0,
        "initialLoss": None,
        "recentLosses": [],
        "curve": {"step": [], "tokens": [], "lr": [], "trainLoss": [],
                  "eval": {"step": [], "tokens": [], "loss": [], "targets": subset_targets}},
        "curvePending": [0.0, 0],  # sum and count of the step losses since the last curve point
    }
    branch_specs = check_branches(cfg, job.get("branchCheckpoints") or [], total_steps)
    ckpt_dir = job.get("checkpointDir")
    ckpt_path = os.path.join(ckpt_dir, CHECKPOINT_FILE) if ckpt_dir else None
    saved = None
    # own checkpoint (a resumed attempt) first; else the trunk checkpoint this branch starts from
    if ckpt_path and os.path.exists(ckpt_path):
        saved = torch.load(ckpt_path, map_location="cpu")  # rng state must stay on the CPU; copy_ moves the rest
        if not same_config(saved["config"], cfg):
            raise InvalidConfig(f"{ckpt_dir} holds a checkpoint of a different trial config; refusing to resume from it")
    start_from = job.get("startFrom")
    if saved is None and start_from and os.path.exists(os.path.join(start_from["dir"], CHECKPOINT_FILE)):
        saved = torch.load(os.path.join(start_from["dir"], CHECKPOINT_FILE), map_location="cpu")
        if not same_config(saved["config"], cfg):
            raise InvalidConfig(
                f"{start_from['dir']} holds a checkpoint of a different trial config; refusing to start from it"
            )
        if saved["state"]["step"] != start_from["step"]:
            raise InvalidConfig(
                f"{start_from['dir']} holds a checkpoint after {saved['state']['step']} steps, "
                f"not after {start_from['step']}; refusing to start from it"
            )
    if saved is not None:
        for name, p in params.items():
            p.data.copy_(saved["params"][name])
        optimizer.load_state_dict(saved["optimizer"])
        state = {**state, **saved["state"]}  # a checkpoint without a curve starts an empty one
        torch.set_rng_state(saved["rng"])
    start_step = state["step"]

    # Branch checkpoints still ahead, each with its trial's curve recorder; a resumed host takes their
    # curves from its own checkpoint (a branch it has none for is not written: see tfjs.ts).
    branches = []
    saved_branches = (saved or {}).get("branches") or []
    for b in branch_specs:
        if b["step"] <= state["step"]:
            continue  # written by the attempt that got past it
        curve, pending = {"step": [], "tokens": [], "lr": [], "trainLoss": [],
                          "eval": {"step": [], "tokens": [], "loss": [], "targets": subset_targets}}, [0.0, 0]
        if state["step"] > 0:
            found = next((x for x in saved_branches if x["step"] == b["step"] and x["dir"] == b["dir"]
                          and same_config(x["config"], b["config"])), None)
            if found is None:
                continue
            curve, pending = found["curve"], list(found["curvePending"])
        bc = b["config"]
        branches.append({"spec": b, "recorder": CurveRecorder(bc, curve, pending),
                         "schedule": make_schedule(bc["schedule"], bc["tokens"], bc["batchSize"])})

    def branch_states():
        return [{"step": b["spec"]["step"], "dir": b["spec"]["dir"], "config": b["spec"]["config"],
                 "curve": b["recorder"].curve, "curvePending": b["recorder"].pending} for b in branches]

    def save_branches():
        """The checkpoint each branch due now would hold had it trained from scratch to this step."""
        due = [b for b in branches if b["spec"]["step"] == state["step"]]
        for b in due:
            target = b["spec"]["dir"]
            parent = os.path.dirname(os.path.abspath(target))
            os.makedirs(parent, exist_ok=True)
            tmp = os.path.join(parent, f".{os.path.basename(os.path.abspath(target))}.tmp-{uuid.uuid4()}")
            os.makedirs(tmp)
            blob = {
                "config": b["spec"]["config"],
                "params": {n: p.detach().cpu() for n, p in params.items()},
                "optimizer": optimizer.state_dict(),
                "state": {**state, "curve": b["recorder"].curve, "curvePending": b["recorder"].pending},
                "rng": torch.get_rng_state(),
            }
            torch.save(blob, os.path.join(tmp, CHECKPOINT_FILE))
            shutil.rmtree(target, ignore_errors=True)
            os.rename(tmp, target)  # the whole directory appears at once
            branches.remove(b)
            emit({"type": "branch-checkpoint", "step": state["step"], "dir": target})

    def save():
        if not ckpt_path:
            return False
        os.makedirs(ckpt_dir, exist_ok=True)
        tmp = f"{ckpt_path}.tmp-{os.getpid()}"
        blob = {
            "config": cfg,
            "params": {n: p.detach().cpu() for n, p in params.items()},
            "optimizer": optimizer.state_dict(),
            "state": state,  # the data order is keyed by (seed, step): step is the whole loader state
            "rng": torch.get_rng_state(),
            "branches": branch_states(),
        }
        torch.save(blob, tmp)
        os.replace(tmp, ckpt_path)  # atomic: a reader sees the old or the new checkpoint, never half
        return True

    session_start, session_tokens0 = time.perf_counter(), state["tokensSeen"]

    def tokens_per_second():
        return (state["tokensSeen"] - session_tokens0) / max(1e-9, time.perf_counter() - session_start)

    def train_loss():
        r = state["recentLosses"]
        return sum(r) / len(r) if r else None

    def result(status, **extra):
        out = {
            "type": "result",
            "status": status,
            "trainLoss": finite_or_none(train_loss()),
            "testLoss": None,
            "testPerplexity": None,
            "tokensSeen": state["tokensSeen"],
            "steps": state["step"],
            "tokensPerSecond": tokens_per_second(),
            "wallSeconds": time.perf_counter() - started,
            "backend": backend,
            "curve": state["curve"],
            "startStep": start_step,
        }
        out.update(extra)
        out.update(throughput_report(cfg, seq_len, vocab_size, out["tokensPerSecond"], peak_flops))
        batch_starts.close()
        return out

    def eval_sum(packed, rows_per_batch):
        ids_all, targets_all, mask_all = packed
        total = 0.0
        with torch.no_grad():
            for first in range(0, ids_all.shape[0], rows_per_batch):
                ids = ids_all[first : first + rows_per_batch].to(device)
                logits = forward(ids)
                per_token = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, vocab_size),
                    targets_all[first : first + rows_per_batch].to(device).reshape(-1),
                    reduction="none",
                )
                total += float((per_token * mask_all[first : first + rows_per_batch].to(device).reshape(-1)).sum())
        return total

    progress_s = job.get("progressIntervalMs", 1000) / 1000.0
    every = job.get("checkpointEveryTokens") or 0
    last_progress = -math.inf
    while state["step"] < total_steps:
        if stop["requested"]:
            return result("aborted", checkpointSaved=save())
        step = state["step"]
        tokens_before = state["tokensSeen"]
        lr = schedule(tokens_before)  # η at the tokens seen before this step
        for g in optimizer.param_groups:
            g["lr"] = lr * g["lrScale"]  # μP: hidden matrices get η/m_width
        starts = batch_starts.get(step, total_steps)
        windows = train_dev[starts[:, None] + offsets].long()  # (B, T+1)
        ids, targets = windows[:, :-1], windows[:, 1:]
        with autocast_context(torch, device, opts):
            logits = train_forward(ids)  # (B, T, V)
            loss_t = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab_size).float(), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss_t.backward()
        optimizer.step()
        loss = loss_t.item()
        state["step"] = step + 1
        state["tokensSeen"] += tokens_per_step
        reason = None
        init = state["initialLoss"]
        if not math.isfinite(loss):
            reason = f"loss is {loss} at step {state['step']}"
        elif init is not None and loss > max(DIVERGENCE_FACTOR * init, init + DIVERGENCE_MARGIN_NATS):
            threshold = max(DIVERGENCE_FACTOR * init, init + DIVERGENCE_MARGIN_NATS)
            reason = (
                f"loss {loss:.3f} at step {state['step']} exceeds max(2 × initial, initial + 3) = "
                f"{threshold:.3f} (initial {init:.3f})"
            )
        if init is None and math.isfinite(loss):
            state["initialLoss"] = loss
        if math.isfinite(loss):
            state["recentLosses"] = (state["recentLosses"] + [loss])[-TRAIN_LOSS_WINDOW:]
        curve, pending = state["curve"], state["curvePending"]
        if math.isfinite(loss):
            pending[0] += loss
            pending[1] += 1
        if state["step"] in record_at:
            curve["step"].append(state["step"])
            curve["tokens"].append(state["tokensSeen"])
            curve["lr"].append(lr)
            curve["trainLoss"].append(finite_or_none(pending[0] / pending[1]) if pending[1] else None)
            state["curvePending"] = [0.0, 0]
        for b in branches:
            b["recorder"].on_step(state["step"], state["tokensSeen"], b["schedule"](tokens_before), loss)
        # the held-out subset at this run's eval steps and at its pending branches' (their curves
        # need them; an evaluation leaves the training state as it was)
        eval_loss = None
        host_eval = not reason and state["step"] < total_steps and state["step"] in eval_at
        branch_evals = [] if reason else [b for b in branches if b["recorder"].eval_due(state["step"])]
        if host_eval or branch_evals:
            subset_loss = eval_sum(subset_set, batch_size) / subset_targets
            for b in branch_evals:
                b["recorder"].on_eval(state["step"], state["tokensSeen"], subset_loss)
            if host_eval:
                eval_loss = subset_loss
                curve["eval"]["step"].append(state["step"])
                curve["eval"]["tokens"].append(state["tokensSeen"])
                curve["eval"]["loss"].append(finite_or_none(eval_loss))
        now = time.perf_counter()
        if reason or eval_loss is not None or (state["step"] < total_steps and now - last_progress >= progress_s):
            last_progress = now
            line = {
                "type": "progress",
                "step": state["step"],
                "tokens": state["tokensSeen"],
                "lr": lr,
                "trainLoss": finite_or_none(loss),
                "tokensPerSecond": tokens_per_second(),
            }
            if eval_loss is not None:
                line["evalLoss"] = finite_or_none(eval_loss)
            emit(line)
        if reason:
            return result("diverged", reason=reason, trainLoss=finite_or_none(loss))
        save_branches()  # before this step's own checkpoint: a resumed run skips passed branches
        tokens = state["tokensSeen"]
        if every > 0 and tokens // every > (tokens - tokens_per_step) // every:
            save()
    trained_tps = tokens_per_second()

    # Held-out evaluation over the job's windows: the subset (also the curve's last held-out point)
    # and the other windows; the counted targets are exactly evalTokens.
    if stop["requested"]:
        return result("aborted", checkpointSaved=save(), tokensPerSecond=trained_tps)
    subset_sum = eval_sum(subset_set, batch_size)
    state["curve"]["eval"]["step"].append(state["step"])
    state["curve"]["eval"]["tokens"].append(state["tokensSeen"])
    state["curve"]["eval"]["loss"].append(finite_or_none(subset_sum / subset_targets))
    loss_sum = subset_sum + eval_sum(rest_set, batch_size)
    test_loss = loss_sum / eval_tokens
    last = state["recentLosses"][-1] if state["recentLosses"] else None
    emit(
        {
            "type": "progress",
            "step": state["step"],
            "tokens": state["tokensSeen"],
            "lr": schedule(max(0, state["tokensSeen"] - tokens_per_step)),
            "trainLoss": finite_or_none(last),
            "evalLoss": finite_or_none(test_loss),
            "tokensPerSecond": trained_tps,
        }
    )
    if not math.isfinite(test_loss):
        return result("diverged", reason=f"held-out loss is {test_loss}", tokensPerSecond=trained_tps)
    return result("succeeded", testLoss=test_loss, testPerplexity=math.exp(test_loss), tokensPerSecond=trained_tps)


def print_curve_steps(job):
    emit(
        {
            "cases": [
                {
                    "curveSteps": curve_steps(c["totalSteps"]),
                    "evalSteps": eval_steps(c["totalSteps"], c.get("decayStartStep")),
                    "decayStartStep": decay_start_step(c["schedule"], c["tokens"], c["tokensPerStep"])
                    if "schedule" in c
                    else None,
                }
                for c in job["cases"]
            ]
        }
    )


def print_eval_set(job):
    import torch

    cfg, data = job["config"], job["data"]
    test = read_tokens(torch, data["testPath"], data["dtype"], int(data["vocabSize"]))
    windows = job.get("evalWindows") or eval_windows(test.numel(), cfg["evalTokens"], cfg["seqLen"])
    out = {}
    for name, (ids, targets, mask) in zip(("subset", "rest"), eval_sets(torch, test, windows, cfg["seqLen"])):
        keep = mask.reshape(-1) > 0
        out[name] = {"inputs": ids.reshape(-1)[keep].tolist(), "targets": targets.reshape(-1)[keep].tolist()}
    emit(out)


def print_schedule(job):
    schedule = make_schedule(job["schedule"], job["totalTokens"], job["batchSize"])
    emit({"lrs": [schedule(float(n)) for n in job["tokens"]]})


def main():
    stop = {"requested": False}

    def on_term(signum, frame):  # finish the current step, checkpoint, report "aborted"
        stop["requested"] = True

    signal.signal(signal.SIGTERM, on_term)
    if "--print-openblas-env" in sys.argv[1:]:
        emit({k: v for k, v in os.environ.items() if k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE")})
        return 0
    try:
        job = json.loads(sys.stdin.read())
    except json.JSONDecodeError as e:
        emit({"type": "error", "class": "invalid-config", "message": f"stdin is not one JSON object: {e}"})
        return 0
    try:
        if "--print-schedule" in sys.argv[1:]:
            print_schedule(job)
        elif "--print-curve-steps" in sys.argv[1:]:
            print_curve_steps(job)
        elif "--print-eval-set" in sys.argv[1:]:
            print_eval_set(job)
        else:
            emit(run_trial(job, stop, runtime_options(sys.argv[1:], os.environ, job)))
    except InvalidConfig as e:
        emit({"type": "error", "class": "invalid-config", "message": str(e)})
    except Exception as e:  # noqa: BLE001 — report anything else as a crash, with its text
        import traceback

        traceback.print_exc(file=sys.stderr)
        emit({"type": "error", "class": "crash", "message": f"{type(e).__name__}: {e}"})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
