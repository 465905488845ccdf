"""Training protocol of chapter 12: the transformer encoder-decoder
(:class:`nblib.nn.transformer_seq2seq.TransformerSeq2Seq`) on SCAN (Lake & Baroni 2018), kept
apart from the model (a model does not know how it was trained).

* ``ScanRecipe``: every setting of a run (model size, batch, learning rate, schedule, budget).
* ``length_batches``: one epoch of batches of similar target length, in random order, so that a
  batch is padded to its own longest target, not to the longest of the data set.
* ``exact_match``: greedy decoding with the key/value cache; a command counts only when its
  whole action sequence, ``<eos>`` included, is right.
* ``train_scan_transformer``: Adam with a linear warm-up and a cosine decay, teacher forcing,
  the loss ignoring ``<pad>``; every ``eval_every`` steps the exact match on a *validation* set
  held out of the training split (never the test split), and a stop as soon as it reaches
  ``target`` (or at ``max_steps``). Everything follows from ``seed``: two runs on the same
  machine and thread count give the same model.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nblib import validate
from nblib.nn.seq2seq import sequence_accuracy
from nblib.nn.transformer_seq2seq import PAD, TransformerSeq2Seq

__all__ = ["ScanRecipe", "length_batches", "exact_match", "train_scan_transformer"]


@dataclass
class ScanRecipe:
    """The settings of one training run (the benchmark's defaults)."""

    d_model: int = 64
    nhead: int = 4
    num_layers: int = 2          # encoder layers = decoder layers
    dim_feedforward: int = 256
    dropout: float = 0.0
    norm_first: bool = False     # post-norm, as the paper (with the warm-up below)
    batch_size: int = 128
    lr: float = 2e-3
    warmup: int = 300            # linear warm-up steps
    max_steps: int = 3500        # the cosine decay reaches 0 here
    eval_every: int = 250
    val_size: int = 1000         # pairs held out of the training split
    target: float = 99.7         # stop once the validation exact match reaches it (%)
    clip: float = 1.0

    def model(self, src_vocab: int, tgt_vocab: int) -> TransformerSeq2Seq:
        return TransformerSeq2Seq(src_vocab, tgt_vocab, self.d_model, self.nhead,
                                  self.num_layers, self.num_layers, self.dim_feedforward,
                                  self.dropout, self.norm_first)


def length_batches(lengths: Tensor, batch_size: int, generator: torch.Generator) -> list:
    """One epoch of index batches: shuffled, sorted by ``lengths`` (stably), cut into
    ``batch_size`` chunks, the chunks shuffled."""
    perm = torch.randperm(len(lengths), generator=generator)
    perm = perm[torch.argsort(lengths[perm], stable=True)]
    chunks = list(perm.split(batch_size))
    return [chunks[i] for i in torch.randperm(len(chunks), generator=generator)]


@torch.no_grad()
def exact_match(model: TransformerSeq2Seq, src: Tensor, tgt: Tensor, batch_size: int = 1024,
                per_example: bool = False):
    """Exact-match accuracy (%) of greedy decoding: ``src`` (N, S), ``tgt`` (N, T) =
    <sos> actions <eos> <pad>... (``ScanSplit.tensors``). With ``per_example`` also the
    (N,) bool tensor of hits and the (N, L) predictions."""
    validate.tensor("src", src, floating=False, ndim=2)
    validate.tensor("tgt", tgt, floating=False, ndim=2, shape=(src.shape[0], "T"))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    hits, preds = [], []
    for i in range(0, len(src), batch_size):
        s, t = src[i:i + batch_size].to(device), tgt[i:i + batch_size].to(device)
        pred = model.greedy_decode(s, max_len=t.shape[1])              # (b, L)
        if isinstance(pred, tuple):                                    # Part IV: (tokens, w)
            pred = pred[0]
        hits.append(sequence_accuracy(pred, t[:, 1:]).cpu())
        preds.append(F.pad(pred, (0, tgt.shape[1] - pred.shape[1]), value=PAD).cpu())
    model.train(was_training)
    hit = torch.cat(hits)
    acc = 100 * hit.float().mean().item()
    return (acc, hit, torch.cat(preds)) if per_example else acc


def _schedule(recipe: ScanRecipe):
    def factor(step: int) -> float:
        if step < recipe.warmup:
            return (step + 1) / recipe.warmup
        done = (step - recipe.warmup) / max(1, recipe.max_steps - recipe.warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, done)))
    return factor


def train_scan_transformer(split, recipe: ScanRecipe | None = None, *, seed: int = 0,
                           device=None, steps: int | None = None, log=None,
                           model: nn.Module | None = None):
    """Train a ``TransformerSeq2Seq`` on ``split`` (a ``ScanSplit``) with ``recipe``.

    ``model`` replaces the recipe's transformer by another encoder-decoder with the same
    calls (Part IV's ``nblib.nn.seq2seq.Seq2Seq``: ``model(src, tgt_in)`` and
    ``model.greedy_decode(src, max_len)``, tuples allowed), trained the same way on the same
    batches.

    ``steps`` stops after that many steps whatever the validation says (the schedule still
    follows ``recipe.max_steps``, so a short run is the start of the full one). ``log``, if
    given, is called with each evaluation's row. Returns ``(model, history)``; ``history`` is a
    dict with the recipe, the rows (step; wall and CPU seconds in all and without the
    evaluations; mean training loss since the last row; validation exact match), the row at
    which the target was first reached (None if never), and the totals.
    """
    recipe = recipe or ScanRecipe()
    device = torch.device(device or "cpu")
    src_all, tgt_all = split.tensors("train")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(src_all), generator=gen)
    val, train = order[:recipe.val_size], order[recipe.val_size:]
    src_val, tgt_val = src_all[val], tgt_all[val]
    src, tgt = src_all[train], tgt_all[train]
    src_len, tgt_len = (src != PAD).sum(1), (tgt != PAD).sum(1)
    torch.manual_seed(seed)
    if model is None:
        model = recipe.model(len(split.src_vocab), len(split.tgt_vocab))
    model = model.to(device)
    try:  # the fused kernel: one update for all parameters (CPU since torch 2.4)
        opt = torch.optim.Adam(model.parameters(), lr=recipe.lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(recipe))
    last = recipe.max_steps if steps is None else min(steps, recipe.max_steps)
    rows, reached, batches = [], None, []
    loss_sum = torch.zeros((), device=device)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    eval_wall = eval_cpu = 0.0
    model.train()
    for step in range(1, last + 1):
        if not batches:
            batches = length_batches(tgt_len, recipe.batch_size, gen)
        idx = batches.pop()
        S, T = int(src_len[idx].max()), int(tgt_len[idx].max())
        s, t = src[idx, :S].to(device), tgt[idx, :T].to(device)
        logits = model(s, t[:, :-1])                                   # (B, T-1, V)
        if isinstance(logits, tuple):                                  # Part IV: (logits, w)
            logits = logits[0]
        loss = F.cross_entropy(logits.flatten(0, 1), t[:, 1:].flatten(), ignore_index=PAD)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), recipe.clip)
        opt.step()
        sched.step()
        loss_sum += loss.detach()
        if step % recipe.eval_every == 0 or step == last:
            e0, c0 = time.perf_counter(), time.process_time()
            acc = exact_match(model, src_val, tgt_val)
            model.train()
            eval_wall += time.perf_counter() - e0
            eval_cpu += time.process_time() - c0
            n = step - (rows[-1]["step"] if rows else 0)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            row = {"step": step, "wall_s": wall, "cpu_s": cpu,
                   "train_wall_s": wall - eval_wall, "train_cpu_s": cpu - eval_cpu,
                   "loss": loss_sum.item() / n, "val_exact_match": acc}
            loss_sum.zero_()
            rows.append(row)
            if log is not None:
                log(row)
            if reached is None and acc >= recipe.target:
                reached = row
                break
    model.eval()
    history = {"recipe": asdict(recipe), "seed": seed, "rows": rows,
               "target_reached": reached, "steps": rows[-1]["step"] if rows else 0,
               "wall_s": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0,
               "eval_wall_s": eval_wall, "eval_cpu_s": eval_cpu, "train_size": len(train),
               "val_size": len(val)}
    return model, history
