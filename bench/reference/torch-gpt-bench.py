# Reference measurement: one PyTorch training step loop of the same GPT shape as the tfjs trainer
# (byte vocab, SwiGLU, RMSNorm, tied embeddings), printing tokens/s as JSON. bench/trainer.ts runs it
# beside the tfjs trainer; docs/environment.md has the figures it produced and how it was run:
#   OPENBLAS_NUM_THREADS=1 python3 bench/reference/torch-gpt-bench.py --d 64 --L 2 --H 2 --T 128 --B 16 --steps 40 --threads 2
# It is a measurement tool, not the reference trainer (packages/trainer/python/train.py).
import sys, time, math, json, argparse
import torch, torch.nn.functional as F
p = argparse.ArgumentParser()
for k, v in dict(d=64, L=2, H=2, T=128, B=16, V=256, steps=20, warm=3, threads=2).items():
    p.add_argument('--' + k, type=int, default=v)
p.add_argument('--text', default='')
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
d, L, H, T, B, V = a.d, a.L, a.H, a.T, a.B, a.V
hd = d // H
hid = math.ceil((8 * d / 3) / 32) * 32

def P(*s, std=0.02):
    return torch.nn.Parameter(torch.randn(*s) * std)
wte, wpe = P(V, d), P(T, d, std=0.01)
blocks = [dict(g1=torch.nn.Parameter(torch.ones(d)), wqkv=P(d, 3 * d), wo=P(d, d, std=0.02 / math.sqrt(2 * L)),
               g2=torch.nn.Parameter(torch.ones(d)), w13=P(d, 2 * hid), w2=P(hid, d, std=0.02 / math.sqrt(2 * L))) for _ in range(L)]
gf = torch.nn.Parameter(torch.ones(d))
decay = [b[k] for b in blocks for k in ('wqkv', 'wo', 'w13', 'w2')]
nodecay = [wte, wpe, gf] + [b[k] for b in blocks for k in ('g1', 'g2')]
opt = torch.optim.AdamW([dict(params=decay, lr=3e-3, weight_decay=0.1), dict(params=nodecay, lr=1.5e-3, weight_decay=0.0)], betas=(0.9, 0.95))
mask = torch.full((T, T), float('-inf')).triu(1)

def rms(x, g):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * g

def forward(ids):
    x = wte[ids] + wpe  # [B,T,d]
    for b in blocks:
        q, k, v = (rms(x, b['g1']) @ b['wqkv']).split(d, -1)
        q, k, v = [t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v)]
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, -1)
        x = x + (att @ v).transpose(1, 2).reshape(B, T, d) @ b['wo']
        u, g = (rms(x, b['g2']) @ b['w13']).split(hid, -1)
        x = x + (F.silu(u) * g) @ b['w2']
    return rms(x, gf) @ wte.t()

import os
if a.text:
    buf = b''.join(open(f, 'rb').read() for f in a.text.split(','))
    arr = torch.tensor(list(buf), dtype=torch.long); cut = int(len(arr) * 0.9); data, held = arr[:cut], arr[cut:]
gen = torch.Generator().manual_seed(0)
def batch(src):
    o = torch.randint(0, len(src) - T - 1, (B,), generator=gen)
    x = torch.stack([src[i:i + T] for i in o]); y = torch.stack([src[i + 1:i + T + 1] for i in o]); return x, y
def held_loss():
    g0 = torch.Generator().manual_seed(999); tot = 0
    with torch.no_grad():
        for _ in range(8):
            o = torch.randint(0, len(held) - T - 1, (B,), generator=g0)
            x = torch.stack([held[i:i + T] for i in o]); y = torch.stack([held[i + 1:i + T + 1] for i in o])
            tot += F.cross_entropy(forward(x).view(-1, V), y.view(-1)).item()
    return tot / 8
nMatmul = L * (d * 3 * d + d * d + d * 2 * hid + hid * d) + d * V
fpt = 6 * nMatmul + L * 12 * T * d
for s in range(a.warm + a.steps):
    if s == a.warm:
        t0 = time.perf_counter()
    if a.text:
        ids, tgt = batch(data)
        for gi, g in enumerate(opt.param_groups): g['lr'] = (3e-3 if gi == 0 else 1.5e-3) * min(1, (s + 1) / 30)
    else:
        ids = torch.randint(0, V, (B, T)); tgt = torch.randint(0, V, (B, T))
    loss = F.cross_entropy(forward(ids).view(-1, V), tgt.view(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    l = loss.item()
    if s == 0: l0 = l
dt = time.perf_counter() - t0
tok = a.steps * B * T
print(json.dumps(dict(torch=torch.__version__, threads=torch.get_num_threads(), cfg=[d, L, H, T, B, V], tokPerSec=round(tok / dt, 1),
                      msPerStep=round(dt * 1000 / a.steps, 1), gflops=round(tok * fpt / dt / 1e9, 2), loss0=round(l0, 4), loss=round(l, 4), **({'heldout': round(held_loss(), 4)} if a.text else {}))))
