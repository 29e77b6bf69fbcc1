#!/usr/bin/env python3
"""reckon's PyTorch operators (python/reckon) beside PyTorch's own, in one process, same threads.

- FM interaction, B = 65,536, F = 39, K = 16: reckon.ops.fm_interaction against 1/2 sum_k((sum_f v)^2 - sum_f v^2)
  in torch ops; forward, and forward + backward. The fused-gather form against indexing the tables first.
- A dense layer with ReLU, forward + backward: reckon.nn.Linear against torch.nn.Linear + ReLU.
- The session models' operators, forward + backward: conv3d, max pooling, a GRU layer, softmax cross-entropy
  against F.conv3d, F.max_pool3d, torch.nn.GRU and F.cross_entropy.
- Top-k by inner product with excluded pairs: reckon.ops.topk_product against a matmul, -inf and torch.topk.
- 26 tables of ROWS x 16, B = 8,192 bags of L = 20 uniform ids: reckon.ops.embedding_bags (one call, [B, 26, 16])
  against F.embedding_bag per table and torch.stack; and a training step's lookup + backward + Adam on the touched
  rows: reckon.nn.EmbeddingBagCollection (Adam fused into the backward) against nn.EmbeddingBag(sparse=True) per
  table with torch.optim.SparseAdam.
- The operators' cost per call over the kernels called directly (python/reckon_torch_overhead: through torch's
  dispatcher, no interpreter), at a small shape.

  python3 bench/peers/torch_ops_compare.py [--build build] [--rows 1000000] [--threads N] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import time

from kernels_compare import best_seconds
from peer_report import add_output_options, emit


def fm_rows(torch, reckon):
    v = torch.randn(65536, 39, 16, requires_grad=True)

    def formula(x):
        return 0.5 * (x.sum(1) ** 2 - (x * x).sum(1)).sum(-1)

    rows = []
    for what, train in (("forward", False), ("forward + backward", True)):
        def run(fn):
            def once():
                with torch.set_grad_enabled(train):
                    y = fn(v)
                    if train:
                        y.sum().backward()
            return once
        rows.append({"op": "fm_interaction " + what, "shape": "B=65536 F=39 K=16",
                     "reckon_ms": 1e3 * best_seconds(run(reckon.ops.fm_interaction)),
                     "pytorch_ms": 1e3 * best_seconds(run(formula))})
    return rows


def fused_fm_and_topk_rows(torch, reckon):
    """FM with the gather fused (39 tables of 100,000 x 16, B = 65,536) against indexing each table then the
    formula; and the 20 best of 100,000 items (D = 64) for 1,024 queries, own items excluded, against a matrix
    product, index_put of -inf and torch.topk."""
    g = torch.Generator().manual_seed(2)
    tables = [torch.randn(100000, 16, generator=g) * 0.01 for _ in range(39)]
    ids = torch.randint(0, 100000, (65536, 39), generator=g)

    def gathered():
        v = torch.stack([t[ids[:, f]] for f, t in enumerate(tables)], 1)
        return 0.5 * (v.sum(1) ** 2 - (v * v).sum(1)).sum(-1)

    queries, items = torch.randn(1024, 64, generator=g), torch.randn(100000, 64, generator=g)
    rows = torch.arange(1024).repeat_interleave(10)
    seen = torch.randint(0, 100000, (10240,), generator=g)

    def product_then_topk():
        scores = queries @ items.T
        scores[rows, seen] = float("-inf")
        return torch.topk(scores, 20)

    return [{"op": "fm_interaction_fused forward", "shape": "39 x 100000 x 16, B=65536",
             "reckon_ms": 1e3 * best_seconds(lambda: reckon.ops.fm_interaction_fused(tables, ids)),
             "pytorch_ms": 1e3 * best_seconds(gathered)},
            {"op": "topk_product, 10 excluded per query", "shape": "Q=1024 N=100000 D=64 k=20",
             "reckon_ms": 1e3 * best_seconds(lambda: reckon.ops.topk_product(queries, items, 20, (rows, seen))),
             "pytorch_ms": 1e3 * best_seconds(product_then_topk)}]


def linear_rows(torch, reckon):
    """DeepFM's first MLP layer, B = 4,096, 624 -> 400 with ReLU, forward + backward: reckon.nn.Linear (ReLU fused)
    against torch.nn.Linear + ReLU."""
    x = torch.randn(4096, 624, requires_grad=True)
    ours = reckon.nn.Linear(624, 400, relu=True)
    theirs = torch.nn.Sequential(torch.nn.Linear(624, 400), torch.nn.ReLU())
    upstream = torch.randn(4096, 400)

    def step(module):
        def once():
            (module(x) * upstream).sum().backward()
        return once

    return [{"op": "linear + ReLU forward + backward", "shape": "B=4096 624->400",
             "reckon_ms": 1e3 * best_seconds(step(ours)), "pytorch_ms": 1e3 * best_seconds(step(theirs))}]


def session_model_rows(torch, reckon):
    """The session models' operators, forward + backward: conv3d (3x3x3, padding 1) at the 3D CNN's deeper layer
    (N 64, C 16, 8x16x32, K 32) against F.conv3d; 2x2x2 max pooling of its output against F.max_pool3d; a GRU layer
    over 10 steps (B 256, 100 -> 100) against torch.nn.GRU; softmax cross-entropy over 40,000 items (B 512)
    against F.cross_entropy."""
    F = torch.nn.functional
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, 16, 8, 16, 32, generator=g, requires_grad=True)
    w = torch.randn(32, 16, 3, 3, 3, generator=g, requires_grad=True)
    b = torch.randn(32, generator=g, requires_grad=True)
    pooled_in = torch.randn(64, 32, 8, 16, 32, generator=g, requires_grad=True)
    ours_gru, theirs_gru = reckon.nn.GRU(100, 100), torch.nn.GRU(100, 100)
    seq = torch.randn(10, 256, 100, generator=g, requires_grad=True)
    logits = torch.randn(512, 40000, generator=g, requires_grad=True)
    targets = torch.randint(0, 40000, (512,), generator=g)

    def train(fn):
        def once():
            fn().sum().backward()
        return once

    cases = [
        ("conv3d forward + backward", "N64 C16 8x16x32 K32 3x3x3",
         lambda: reckon.ops.conv3d(x, w, b, padding=1), lambda: F.conv3d(x, w, b, padding=1)),
        ("pool3d max 2x2x2 forward + backward", "N64 C32 8x16x32",
         lambda: reckon.ops.pool3d(pooled_in, "max", 2), lambda: F.max_pool3d(pooled_in, 2)),
        ("GRU layer forward + backward", "T10 B256 100->100",
         lambda: ours_gru(seq)[0], lambda: theirs_gru(seq)[0]),
        ("softmax_cross_entropy forward + backward", "B512 N40000",
         lambda: reckon.ops.softmax_cross_entropy(logits, targets),
         lambda: F.cross_entropy(logits, targets, reduction="none")),
    ]
    return [{"op": op, "shape": shape, "reckon_ms": 1e3 * best_seconds(train(ours)),
             "pytorch_ms": 1e3 * best_seconds(train(theirs))} for op, shape, ours, theirs in cases]


def bags(torch, tables, rows, batch=8192, length=20):
    g = torch.Generator().manual_seed(1)
    offsets = [torch.arange(0, batch * length + 1, length, dtype=torch.int64)] * tables
    indices = [torch.randint(0, rows, (batch * length,), generator=g) for _ in range(tables)]
    return indices, offsets


def embedding_rows(torch, reckon, rows_per_table):
    F = torch.nn.functional
    indices, offsets = bags(torch, 26, rows_per_table)
    weights = [torch.randn(rows_per_table, 16) * 0.01 for _ in range(26)]
    shape = f"26 x {rows_per_table} x 16, B=8192 L=20"
    forward = {"op": "embedding_bags forward", "shape": shape,
               "reckon_ms": 1e3 * best_seconds(lambda: reckon.ops.embedding_bags(weights, indices, offsets)),
               "pytorch_ms": 1e3 * best_seconds(lambda: torch.stack(
                   [F.embedding_bag(i, w, o, include_last_offset=True) for w, i, o in zip(weights, indices, offsets)],
                   dim=1))}
    collection = reckon.nn.EmbeddingBagCollection([rows_per_table] * 26, 16, optimizer="adam", learning_rate=1e-3)
    plain = torch.nn.ModuleList(torch.nn.EmbeddingBag(rows_per_table, 16, mode="sum", sparse=True,
                                                      include_last_offset=True) for _ in range(26))
    adam = torch.optim.SparseAdam(plain.parameters(), lr=1e-3)
    upstream = torch.randn(8192, 26, 16)

    def reckon_step():
        (collection(indices, offsets) * upstream).sum().backward()

    def torch_step():
        adam.zero_grad()
        (torch.stack([m(i, o) for m, i, o in zip(plain, indices, offsets)], dim=1) * upstream).sum().backward()
        adam.step()

    step = {"op": "lookup + backward + Adam on touched rows", "shape": shape,
            "reckon_ms": 1e3 * best_seconds(reckon_step), "pytorch_ms": 1e3 * best_seconds(torch_step)}
    return [forward, step]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--rows", type=int, default=1000000, help="rows of each of the 26 tables")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    add_output_options(ap)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    os.environ.setdefault("RECKON_TORCH_LIBRARY", os.path.join(args.build, "python", "libreckon_torch.so"))
    import torch
    import reckon

    torch.set_num_threads(args.threads)
    rows = (fm_rows(torch, reckon) + fused_fm_and_topk_rows(torch, reckon) + linear_rows(torch, reckon) +
            session_model_rows(torch, reckon) + embedding_rows(torch, reckon, args.rows))
    for r in rows:
        r["ratio"] = r["pytorch_ms"] / r["reckon_ms"]
    overhead = json.loads(subprocess.run([os.path.join(args.build, "python", "reckon_torch_overhead"),
                                          reckon.library_path], check=True, capture_output=True, text=True).stdout)
    report = {"threads": args.threads, "pytorch_version": torch.__version__, "rows": rows, "overhead": overhead}
    if not emit(report, args):
        return
    print(f"\nreckon's PyTorch operators beside PyTorch's own: {args.threads} threads, CPU; PyTorch {torch.__version__}")
    print(f"{'operation':<44}{'shape':<32}{'reckon ms':>11}{'PyTorch ms':>12}{'ratio':>8}")
    for r in rows:
        print(f"{r['op']:<44}{r['shape']:<32}{r['reckon_ms']:>11.2f}{r['pytorch_ms']:>12.2f}{r['ratio']:>7.2f}x")
    print("per call over the kernel called directly (through torch's dispatcher, no interpreter): " +
          ", ".join(f"{op} +{o['overhead_us']:.2f} us ({o['direct_us']:.2f} -> {o['op_us']:.2f})"
                    for op, o in overhead.items()))


if __name__ == "__main__":
    main()
