"""Benchmark: the learning rate of chapter 13's two character models, the GPT and the LSTM.

Chapter 13 compares a 2-layer GPT (414,592 parameters) with chapter 10's LSTM of the same size
(hidden 280, 413,395 parameters) after the same number of AdamW steps on the same batches. A
comparison at one untuned learning rate says little, so this script trains both models at each
peak learning rate of ``--lrs`` with everything else exactly as in the chapter: the same
Shakespeare split, the same seed and initial weights, the same batches (12 random windows of 64
characters, 700 steps), AdamW with betas (0.9, 0.99) and no weight decay, a linear warm-up over
50 steps then a cosine decay to a tenth of the peak, gradient norm clipped at 1, through
``nblib.train.fit``. Each run is scored as in the chapter: bits per character on 500 windows of
65 characters spread over the held-out plays.

Three further runs put the sweep in context:

- **a longer warm-up for the GPT**: its best rate of the sweep with nanoGPT's 100 warm-up
  steps instead of the chapter's 50;
- **nanoGPT's own settings** for ``shakespeare_char`` (Karpathy 2022, ``config/
  train_shakespeare_char.py`` and ``train.py``) on the GPT: peak 1e-3, 100 warm-up steps,
  cosine decay to 1e-4 after the warm-up, weight decay 0.1 on the weight matrices and
  embeddings (not on biases and layer norms), at the chapter's 700 steps;
- **the LSTM given the GPT's time**: the LSTM at its best rate, for as many steps as fit in
  the CPU time the GPT took at its best rate (the schedule stretched to that length).

Every run happens in this process, one after the other, single-threaded (``--threads``), so
their CPU times (``time.process_time``, which other programs running at the same time inflate
far less than the wall clock) can be compared. The results go to
``nblib/checkpoints/char_lm_lr.json``, which the chapter reads to show the sweep and to check
that it trains each model at the rate that was best here.

    python benchmarks/char_lm_lr.py                  # about 7 minutes of CPU time
    python benchmarks/char_lm_lr.py --lrs 3e-3 6e-3 --no-extra --out /tmp/sweep.json

Exit status 0 when every run finished with a finite loss.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from nblib import train
from nblib.data import shakespeare
from nblib.nn import gpt
from nblib.nn.char_lstm import CharLSTM

OUT = Path(__file__).resolve().parents[1] / "nblib" / "checkpoints" / "char_lm_lr.json"
BLOCK, BATCH = 64, 12


class RandomWindows:
    """`steps` batches of `batch` random training windows (the chapter's class)."""

    def __init__(self, ids, steps, batch=BATCH, block=BLOCK, seed=0):
        self.ids, self.steps, self.batch, self.block, self.seed = ids, steps, batch, block, seed

    def __len__(self):
        return self.steps

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed)
        offsets = torch.arange(self.block + 1, device=self.ids.device)
        for _ in range(self.steps):
            i = torch.randint(len(self.ids) - self.block - 1, (self.batch,), generator=g)
            w = self.ids[i.to(self.ids.device)[:, None] + offsets]     # (B, T + 1)
            yield w[:, :-1], w[:, 1:]


def lm_loss(out, targets):
    return F.cross_entropy(out[0].flatten(0, 1), targets.flatten())


def chapter_factor(steps, warmup):
    """The chapter's schedule: linear warm-up times a cosine decay to 1/10 over all steps."""
    def factor(s):
        cosine = 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0)))
        return min(1.0, (s + 1) / warmup) * (0.1 + 0.9 * cosine)
    return factor


def nanogpt_factor(steps, warmup):
    """nanoGPT's get_lr / learning_rate: warm-up from 0, then a cosine from the peak to 1/10."""
    def factor(s):
        if s < warmup:
            return s / warmup
        coeff = 0.5 * (1 + math.cos(math.pi * min((s - warmup) / (steps - warmup), 1.0)))
        return 0.1 + 0.9 * coeff
    return factor


def nanogpt_groups(model, weight_decay):
    """nanoGPT's configure_optimizers: decay tensors of 2 or more dimensions only."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def train_one(model, train_ids, steps, lr, warmup, *, weight_decay=0.0, schedule="chapter",
              seed=0):
    """Train; returns (CPU seconds, wall seconds, finite?)."""
    if schedule == "chapter":
        groups, factor = model.parameters(), chapter_factor(steps, warmup)
    else:
        groups, factor = nanogpt_groups(model, weight_decay), nanogpt_factor(steps, warmup)
    opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        train.fit(model, RandomWindows(train_ids, steps, seed=seed), loss_fn=lm_loss,
                  optimizer=opt, steps=steps, clip_grad_norm=1.0, scheduler=sched,
                  progress=False)
        finite = True
    except FloatingPointError:
        finite = False
    return time.process_time() - cpu, time.perf_counter() - wall, finite


@torch.no_grad()
def val_bits(model, windows):
    model.eval()
    nats = lm_loss(model(windows[:, :-1]), windows[:, 1:]).item()
    model.train()
    return nats / math.log(2), nats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3, 6e-3, 1e-2, 2e-2, 4e-2])
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--val-windows", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-extra", action="store_true",
                    help="skip the three runs after the sweep")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    text = shakespeare.load_shakespeare()
    V = len(text.vocab)
    train_ids, val_ids = text.vocab.encode(text.train), text.vocab.encode(text.val)
    starts = torch.linspace(0, len(val_ids) - BLOCK - 2, args.val_windows).long()
    windows = val_ids[starts[:, None] + torch.arange(BLOCK + 1)]       # (N, 65)

    config = gpt.GPTConfig(vocab_size=V, block_size=BLOCK, n_layer=2, n_head=4, n_embd=128)
    n_gpt = gpt.GPT(config).num_parameters()

    def lstm_size(H, E=64):
        return V * E + 4 * H * (E + H) + 8 * H + H * V + V

    hidden = min(range(64, 513, 8), key=lambda H: abs(lstm_size(H) - n_gpt))

    def build(name):
        torch.manual_seed(args.seed)
        return gpt.GPT(config) if name == "GPT" else CharLSTM(V, embed=64, hidden=hidden)

    runs, ok = [], True

    def record(name, lr, steps, warmup, setting, **kw):
        nonlocal ok
        model = build(name)
        cpu, wall, finite = train_one(model, train_ids, steps, lr, warmup, seed=args.seed, **kw)
        bits, nats = val_bits(model, windows) if finite else (math.inf, math.inf)
        ok &= finite and math.isfinite(bits)
        row = {"model": name, "setting": setting, "lr": lr, "warmup": warmup, "steps": steps,
               "weight_decay": kw.get("weight_decay", 0.0), "bits_per_char": bits,
               "nats_per_char": nats, "cpu_s": cpu, "wall_s": wall}
        runs.append(row)
        print(f"{name:4s} {setting:14s} lr {lr:7.0e} warm-up {warmup:3d} {steps:5d} steps: "
              f"{bits:.4f} bits/char, {cpu:6.1f} s CPU, {wall:6.1f} s wall", flush=True)
        return row

    for lr in args.lrs:
        for name in ("GPT", "LSTM"):
            record(name, lr, args.steps, args.warmup, "sweep")

    def best(name):
        rows = [r for r in runs if r["model"] == name and r["setting"] == "sweep"]
        return min(rows, key=lambda r: r["bits_per_char"])

    if not args.no_extra:
        g, lstm = best("GPT"), best("LSTM")
        record("GPT", g["lr"], args.steps, 100, "warmup_100")
        record("GPT", 1e-3, args.steps, 100, "nanogpt", weight_decay=0.1, schedule="nanogpt")
        steps = round(args.steps * g["cpu_s"] / lstm["cpu_s"])
        record("LSTM", lstm["lr"], steps, args.warmup, "gpt_time")

    print("\nbest peak learning rate:")
    for name in ("GPT", "LSTM"):
        r = best(name)
        print(f"  {name:4s} {r['lr']:.0e}: {r['bits_per_char']:.4f} bits/char in "
              f"{r['cpu_s']:.1f} s CPU")
    notes = {
        "what": "peak learning rates of chapter 13's GPT and LSTM at the chapter's budget",
        "command": " ".join(["python", *sys.argv]),
        "seed": args.seed, "threads": args.threads, "device": "cpu",
        "torch": torch.__version__, "python": platform.python_version(),
        "steps": args.steps, "batch": BATCH, "block": BLOCK, "warmup": args.warmup,
        "val_windows": args.val_windows, "gpt_params": n_gpt,
        "lstm_params": lstm_size(hidden), "lstm_hidden": hidden,
        "best_lr": {name: best(name)["lr"] for name in ("GPT", "LSTM")},
        "runs": runs,
    }
    args.out.write_text(json.dumps(notes, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
