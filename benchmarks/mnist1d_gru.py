"""Benchmark: MNIST-1D read as a sequence by a GRU, the published recipe against chapter 09's.

The published baseline (Greydanus & Kobak 2020): a bidirectional GRU with 6 hidden units, every
step's output flattened into Linear(480, 10) (5,134 parameters), Adam at 1e-2, batches of 100,
6,000 steps, no schedule: 91 % test accuracy in the paper. Chapter 09's recipe keeps the model's
shape with 32 hidden units per direction, batches of 256 and a one-cycle schedule peaking at
2e-2, 250 steps. Both run in this process, one after the other, on the same device and threads;
the benchmark prints both wall times, both accuracies and the ratio, and fails unless the fast
recipe reaches the published accuracy (91 %) in at most half the published recipe's wall time.

    python benchmarks/mnist1d_gru.py [--seed 0] [--published-steps 6000] [--threads 1]

``--published-steps`` shortens the published run for a quick look (the ratio is then
extrapolated linearly to 6,000 steps, and said so). Wall time depends on what else the machine
runs: compare the two numbers of one run, not numbers from different runs.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from nblib import data, recipes, train
from nblib.nn.gru import Mnist1dGRU

PUBLISHED_ACC = 91.0


def fast_recipe(splits, seed, steps=250, hidden=32, batch=256, lr=2e-2, device="cpu"):
    """Chapter 09's recipe; returns (test accuracy in %, seconds)."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    model = Mnist1dGRU(hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    batches = data.make_loader(splits.x_train, splits.y_train, batch, seed=seed,
                               drop_last=True).to(device)
    train.fit(model, batches, loss_fn=F.cross_entropy, optimizer=optimizer, steps=steps,
              scheduler=schedule, progress=False)
    test = [(splits.x_test.to(device), splits.y_test.to(device))]
    acc = 100 * train.evaluate(model, test, F.cross_entropy)["acc"]
    return acc, time.perf_counter() - t0


def published_recipe(splits, seed, steps=6000, device="cpu"):
    """Greydanus & Kobak's GRU baseline; returns (test accuracy in %, seconds)."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    model = Mnist1dGRU(6).to(device)
    acc, _ = recipes.train_mnist1d_baseline(model, splits, steps=steps, seed=seed, device=device)
    return acc, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--published-steps", type=int, default=6000)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest here)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    splits = data.load_mnist1d()
    cpu0 = time.process_time()
    fast_acc, fast_s = fast_recipe(splits, args.seed, device=device)
    print(f"chapter 09 recipe : {fast_acc:5.1f} % in {fast_s:6.1f} s wall")
    pub_acc, pub_s = published_recipe(splits, args.seed, args.published_steps, device=device)
    note = ""
    if args.published_steps != 6000:
        pub_s *= 6000 / args.published_steps
        note = f" (extrapolated from {args.published_steps} steps; accuracy not comparable)"
    print(f"published recipe  : {pub_acc:5.1f} % in {pub_s:6.1f} s wall{note}")
    ratio = fast_s / pub_s
    print(f"ratio (chapter 09 / published wall time): {ratio:.3f}; "
          f"CPU seconds used in total: {time.process_time() - cpu0:.1f}")
    assert fast_acc >= PUBLISHED_ACC, f"the fast recipe reached {fast_acc:.1f} % < {PUBLISHED_ACC} %"
    assert ratio <= 0.5, f"the fast recipe took {ratio:.2f} of the published recipe's time"
    print("PASS: published accuracy reached in at most half the published wall time")


if __name__ == "__main__":
    main()
