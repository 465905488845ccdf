"""What the two SCAN benchmarks (scan_transformer.py, scan_gru.py) print alike: a line per
validation, then the test exact match and when 99 % and the recipe's target were first reached.
"""
from __future__ import annotations

import time

from nblib.transformer_recipes import exact_match


def log(row):
    """One validation row of ``train_scan_transformer``'s history."""
    print(f"step {row['step']:5d}  {row['wall_s']:7.1f} s wall  {row['cpu_s']:7.1f} s CPU"
          f"  loss {row['loss']:.4f}  validation exact match "
          f"{row['val_exact_match']:6.2f} %", flush=True)


def test_and_report(model, split, split_name, recipe, hist) -> dict:
    """Decode the whole test split greedily, print the run's summary and return
    ``{"test_exact_match", "first_99", "target_reached", "best"}``."""
    t0, c0 = time.perf_counter(), time.process_time()
    src, tgt = split.tensors("test")
    test_acc = exact_match(model, src, tgt)
    test_wall, test_cpu = time.perf_counter() - t0, time.process_time() - c0
    reached = hist["target_reached"]
    first99 = next((r for r in hist["rows"] if r["val_exact_match"] >= 99.0), None)
    best = max(hist["rows"], key=lambda r: r["val_exact_match"])
    print(f"trained {hist['steps']} steps in {hist['wall_s']:.1f} s wall, {hist['cpu_s']:.1f} s "
          f"CPU (of which validation decoding {hist['eval_wall_s']:.1f} s wall, "
          f"{hist['eval_cpu_s']:.1f} s CPU)")
    if first99:
        print(f"validation exact match first >= 99 % at step {first99['step']}, "
              f"{first99['wall_s']:.1f} s wall, {first99['cpu_s']:.1f} s CPU")
    else:
        print(f"validation exact match never >= 99 %; best {best['val_exact_match']:.2f} % at "
              f"step {best['step']}")
    if reached:
        print(f"validation target {recipe.target} % first reached at step {reached['step']}, "
              f"{reached['wall_s']:.1f} s wall, {reached['cpu_s']:.1f} s CPU")
    else:
        print(f"validation target {recipe.target} % not reached in {recipe.max_steps} steps")
    print(f"test exact match ({split_name}, {len(src)} commands, greedy): {test_acc:.2f} % "
          f"(decoded in {test_wall:.1f} s wall, {test_cpu:.1f} s CPU)")
    return {"test_exact_match": test_acc, "first_99": first99, "target_reached": reached,
            "best": best}
