// The reference trainer's weight decay under μP (docs/weight-decay.md): torch AdamW decays a group
// by lr_group·weight_decay per step; train.py gives hidden matrices weight_decay λ/lrScale = λ·m_width
// (as microsoft/mup's MuAdamW), so the per-step decay is η·λ at every width, as in the tfjs AdamW.
// The torch step itself is checked only where python can import torch.
import { spawnSync } from "node:child_process";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { referenceTorchCommand } from "../src/exec.ts";

const [python, trainPy] = referenceTorchCommand() as [string, string];

const SCRIPT = `
import json, sys
sys.path.insert(0, sys.argv[1])
from train import weight_decay_of
lr, lam = 0.02, 0.1
opt_cfg = {"weightDecay": lam}
out = {"perStep": {}, "other": weight_decay_of({"lrScale": 1.0, "weightDecay": False}, opt_cfg), "torch": None}
for m in (0.5, 1, 4, 8):
    g = {"lrScale": 1.0 / m, "weightDecay": True}
    out["perStep"][str(m)] = lr * g["lrScale"] * weight_decay_of(g, opt_cfg)
try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    out["torch"] = {}
    for m in (1, 8):
        p = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))
        g = {"lrScale": 1.0 / m, "weightDecay": True}
        opt = torch.optim.AdamW([{"params": [p], "lr": lr * g["lrScale"], "weight_decay": weight_decay_of(g, opt_cfg)}])
        p.grad = torch.zeros_like(p)
        opt.step()
        out["torch"][str(m)] = 1.0 - float(p[0])
print(json.dumps(out))
`;

describe("train.py weight decay under μP", () => {
  it("decays hidden matrices by η·λ per step at every width, and nothing else", () => {
    const r = spawnSync(python, ["-c", SCRIPT, dirname(trainPy)], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      perStep: Record<string, number>;
      other: number;
      torch: Record<string, number> | null;
    };
    // η·λ = 2e-3 at m_width 0.5, 1, 4, 8 (not η·λ/m_width)
    for (const v of Object.values(out.perStep)) expect(v).toBeCloseTo(0.002, 12);
    expect(out.other).toBe(0);
    if (out.torch === null) console.warn("torch missing: the torch AdamW step itself was not checked");
    else for (const v of Object.values(out.torch)) expect(v).toBeCloseTo(0.002, 12);
  });
});
