"""The sharded collection over torch.distributed (gloo on loopback, world sizes 2 and 4) against one process: the
same pooled outputs, and the same tables after training steps with DDP on the dense part."""
import datetime
import socket

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

import reckon  # noqa: E402
from reckon.distributed import ShardedEmbeddingBagCollection, plan_shards, row_range  # noqa: E402

ROWS, DIM, GLOBAL_BATCH, STEPS = [30, 7, 120, 50], 4, 24, 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def global_batch(step):
    g = torch.Generator().manual_seed(100 + step)
    indices, offsets = [], []
    for rows in ROWS:
        lengths = torch.randint(0, 4, (GLOBAL_BATCH,), generator=g)
        o = torch.zeros(GLOBAL_BATCH + 1, dtype=torch.int64)
        o[1:] = torch.cumsum(lengths, 0)
        indices.append(torch.randint(0, rows, (int(o[-1]),), generator=g))
        offsets.append(o)
    return indices, offsets, torch.randn(GLOBAL_BATCH, generator=g)


def batch_weights(indices, step):
    """Per-sample weights for a batch ("weighted" runs): one per id, table 1 without."""
    g = torch.Generator().manual_seed(200 + step)
    return [None if t == 1 else torch.rand(len(ids), generator=g) for t, ids in enumerate(indices)]


def slice_weights(weights, offsets, lo, hi):
    return [None if w is None else w[int(o[lo]):int(o[hi])] for w, o in zip(weights, offsets)]


def slice_batch(indices, offsets, lo, hi):
    """Bags [lo, hi) of every table, with their own offsets."""
    out_i, out_o = [], []
    for ids, o in zip(indices, offsets):
        out_i.append(ids[int(o[lo]):int(o[hi])])
        out_o.append(o[lo:hi + 1] - o[lo])
    return out_i, out_o


def models(mode):
    torch.manual_seed(5)
    dense = torch.nn.Linear(len(ROWS) * DIM, 1)
    return dense


def reference(mode):
    """One process on the global batches: the tables after each step and the first step's pooled output."""
    weighted, mode = mode == "weighted", "sum" if mode == "weighted" else mode
    tables = reckon.nn.EmbeddingBagCollection(ROWS, DIM, mode, "adam", 0.05, init_std=0.5,
                                              generator=torch.Generator().manual_seed(3))
    dense = models(mode)
    optimizer = torch.optim.SGD(dense.parameters(), lr=0.1)
    first = None
    for step in range(STEPS):
        indices, offsets, target = global_batch(step)
        pooled = tables(indices, offsets, batch_weights(indices, step) if weighted else None)
        first = pooled.detach() if first is None else first
        loss = ((dense(pooled.view(GLOBAL_BATCH, -1)).squeeze(1) - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return first, [t.clone() for t in tables.tables()]


def join(rank, world, port, timeout_s, backend="gloo"):
    # One thread per rank: the ranks share this machine's cores (and OpenMP's spinning waits would eat them).
    torch.set_num_threads(1)
    if backend == "nccl":
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, init_method="tcp://127.0.0.1:%d" % port, rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=timeout_s))


def leave(rank):
    # A rank that exits while a peer still reads from it can leave that peer waiting: all leave together.
    dist.barrier()
    dist.destroy_process_group()


def train_sharded(rank, world, port, mode, backend="gloo"):
    join(rank, world, port, 300, backend)
    device = torch.device("cuda", rank) if backend == "nccl" else torch.device("cpu")
    weighted = mode == "weighted"
    plan = plan_shards(ROWS, world, row_wise_from=100)
    tables = ShardedEmbeddingBagCollection(ROWS, DIM, plan, "sum" if weighted else mode, "adam", 0.05, init_std=0.5,
                                           seed=3).to(device)
    dense = torch.nn.parallel.DistributedDataParallel(models(mode).to(device),
                                                      device_ids=[rank] if backend == "nccl" else None)
    optimizer = torch.optim.SGD(dense.parameters(), lr=0.1)
    local = GLOBAL_BATCH // world
    lo, hi = rank * local, (rank + 1) * local
    first = None
    for step in range(STEPS):
        indices, offsets, target = global_batch(step)
        mine_i, mine_o = slice_batch(indices, offsets, lo, hi)
        weights = None
        if weighted:
            weights = [None if w is None else w.to(device)
                       for w in slice_weights(batch_weights(indices, step), offsets, lo, hi)]
        mine_i, mine_o, target = [i.to(device) for i in mine_i], [o.to(device) for o in mine_o], target.to(device)
        pooled = tables(mine_i, mine_o, weights)
        first = pooled.detach() if first is None else first
        loss = ((dense(pooled.view(local, -1)).squeeze(1) - target[lo:hi]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == 0:  # the bytes this rank sent against the formula (docs/PYTHON.md)
            shards_all = sum(len(held) for held in tables.shards)
            mine = len(tables.shards[rank])
            ids = sum(i.numel() for i in mine_i)
            want = 8 * local * shards_all + 8 * ids + 4 * DIM * mine * GLOBAL_BATCH + 4 * DIM * local * shards_all
            want += 4 * ids if weighted else 0  # each id's weight travels with it
            assert tables.bytes_sent == want, (tables.bytes_sent, want)
    shards = [None] * world
    dist.all_gather_object(shards, [(t, lo_, hi_, w.cpu()) for t, lo_, hi_, w in tables.shard_tables()])
    outputs = [None] * world
    dist.all_gather_object(outputs, first.cpu())
    if rank == 0:
        want_first, want_tables = reference(mode)
        torch.testing.assert_close(torch.cat(outputs), want_first, rtol=1e-5, atol=1e-5)
        got = [torch.zeros(rows, DIM) for rows in ROWS]
        for held in shards:
            for t, a, b, w in held:
                got[t][a:b] = w
        for t in range(len(ROWS)):
            torch.testing.assert_close(got[t], want_tables[t], rtol=1e-4, atol=1e-5, msg="table %d" % t)
    del dense, optimizer  # DDP's reducer holds the process group: it goes first
    leave(rank)


@pytest.mark.parametrize("world", [2, 4])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_sharded_training_equals_one_process(world, mode):
    mp.spawn(train_sharded, args=(world, free_port(), mode), nprocs=world, join=True)


def test_sharded_weighted_bags_equal_one_process():
    mp.spawn(train_sharded, args=(2, free_port(), "weighted"), nprocs=2, join=True)


@pytest.mark.skipif(not (dist.is_nccl_available() and torch.cuda.device_count() >= 2),
                    reason="NCCL needs a CUDA torch and two GPUs (Debian's torch is CPU-only)")
def test_sharded_training_on_nccl_equals_one_process():
    mp.spawn(train_sharded, args=(2, free_port(), "sum", "nccl"), nprocs=2, join=True)


def refuse_bad_input(rank, world, port):
    join(rank, world, port, 300)
    tables = ShardedEmbeddingBagCollection(ROWS, DIM, plan_shards(ROWS, world), seed=1)
    indices, offsets, _ = global_batch(0)
    if rank == 1:
        indices[1] = torch.full_like(indices[1], 7)  # table 1 has 7 rows
    expected = ValueError if rank == 1 else RuntimeError
    with pytest.raises(expected, match="rank 1" if rank == 1 else "rank\\(s\\) 1 refused"):
        tables(indices, offsets)
    leave(rank)


def test_a_rank_with_bad_input_makes_every_rank_fail_clearly():
    mp.spawn(refuse_bad_input, args=(2, free_port()), nprocs=2, join=True)


def test_plans_and_row_ranges():
    plan = plan_shards([1000, 10, 300, 20], 2, row_wise_from=500)
    assert plan[0] == ("row", None)
    assert sorted(owner for kind, owner in plan[1:]) == [0, 0, 1] or sorted(o for _, o in plan[1:]) == [0, 1, 1]
    assert [row_range(10, r, 4) for r in range(4)] == [(0, 3), (3, 6), (6, 9), (9, 10)]
