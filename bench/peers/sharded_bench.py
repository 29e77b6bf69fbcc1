#!/usr/bin/env python3
"""Sharded training on the CPU: reckon.distributed.ShardedEmbeddingBagCollection (the tables) and DDP (an MLP) over
gloo on loopback, at world sizes 1, 2 and 4; samples/s over all ranks, and the bytes each rank sends per step
against the formula of docs/PYTHON.md.

Each rank brings BATCH samples of 26 one-id fields (tables of ROWS rows, D = 16, the two largest row-wise) and
trains a DeepFM-shaped step: pooled [B, 26, 16] -> FM + MLP 400-400-400 -> BCE. One thread per rank.

  python3 bench/peers/sharded_bench.py [--build build] [--worlds 1,2,4] [--steps 30] [--json]
"""
import argparse
import datetime
import os
import socket
import sys
import time

from peer_report import add_output_options, emit

FIELDS, DIM, BATCH = 26, 16, 2048
ROWS = [200000, 100000] + [20000] * 24


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_main(rank, world, port, steps, queue):
    import torch
    import torch.distributed as dist
    import reckon
    from reckon.distributed import ShardedEmbeddingBagCollection, plan_shards

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=300))
    tables = ShardedEmbeddingBagCollection(ROWS, DIM, plan_shards(ROWS, world, row_wise_from=100000), "sum", "adam",
                                           1e-3, seed=1)
    torch.manual_seed(1)
    mlp = torch.nn.Sequential(torch.nn.Linear(FIELDS * DIM, 400), torch.nn.ReLU(), torch.nn.Linear(400, 400),
                              torch.nn.ReLU(), torch.nn.Linear(400, 400), torch.nn.ReLU(), torch.nn.Linear(400, 1))
    dense = torch.nn.parallel.DistributedDataParallel(mlp)
    optimizer = torch.optim.Adam(dense.parameters(), lr=1e-3)
    fm = reckon.nn.FMInteraction()
    g = torch.Generator().manual_seed(100 + rank)
    offsets = [torch.arange(BATCH + 1, dtype=torch.int64)] * FIELDS
    batches = [([torch.randint(0, rows, (BATCH,), generator=g) for rows in ROWS],
                (torch.rand(BATCH, generator=g) < 0.25).float()) for _ in range(4)]
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step(i):
        ids, labels = batches[i % len(batches)]
        v = tables(ids, offsets)
        logit = fm(v) + dense(v.reshape(BATCH, -1)).squeeze(1)
        optimizer.zero_grad()
        loss_fn(logit, labels).backward()
        optimizer.step()

    step(0)  # warm-up
    before = tables.bytes_sent
    step(1)
    per_step = tables.bytes_sent - before
    dist.barrier()
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    dist.barrier()
    seconds = time.perf_counter() - start
    shards = sum(len(held) for held in tables.shards)
    mine = len(tables.shards[rank])
    formula = 8 * BATCH * shards + 8 * BATCH * FIELDS + 4 * DIM * mine * BATCH * world + 4 * DIM * BATCH * shards
    queue.put({"rank": rank, "seconds": seconds, "bytes_per_step": per_step, "formula": formula})
    del dense, optimizer
    dist.barrier()
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--worlds", default="1,2,4")
    ap.add_argument("--steps", type=int, default=30)
    add_output_options(ap)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    os.environ.setdefault("RECKON_TORCH_LIBRARY", os.path.join(os.path.abspath(args.build), "python",
                                                               "libreckon_torch.so"))
    os.environ["PYTHONPATH"] = os.pathsep.join([sys.path[0], os.environ.get("PYTHONPATH", "")])
    import torch
    import torch.multiprocessing as mp

    results = []
    for world in [int(w) for w in args.worlds.split(",")]:
        queue = mp.get_context("spawn").SimpleQueue()
        mp.spawn(rank_main, args=(world, free_port(), args.steps, queue), nprocs=world, join=True)
        ranks = sorted((queue.get() for _ in range(world)), key=lambda r: r["rank"])
        seconds = max(r["seconds"] for r in ranks)
        results.append({"world": world, "samples_per_s": world * BATCH * args.steps / seconds, "ranks": ranks})
    report = {"cpus": os.cpu_count(), "batch_per_rank": BATCH, "fields": FIELDS, "dim": DIM, "rows": ROWS,
              "steps": args.steps, "pytorch_version": torch.__version__, "results": results}
    if not emit(report, args):
        return
    print(f"\nsharded DeepFM-shaped training, gloo on loopback, {os.cpu_count()} CPUs, one thread per rank, "
          f"{BATCH} samples per rank and step; PyTorch {torch.__version__}")
    print(f"{'world':>6}{'samples/s':>12}  bytes sent per step by each rank (formula)")
    for r in results:
        sent = ", ".join(f"{x['bytes_per_step']:,} ({x['formula']:,})" for x in r["ranks"])
        print(f"{r['world']:>6}{r['samples_per_s']:>12,.0f}  {sent}")


if __name__ == "__main__":
    main()
