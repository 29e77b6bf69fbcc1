"""An embedding collection sharded over the ranks of a torch.distributed process group.

Each table lives on one rank (table-wise) or is cut into equal row ranges, one per rank (row-wise). Every rank
brings its own batch (data parallel, as DDP runs the dense part); the ids travel to the ranks that hold their rows
and the pooled sums travel back, both by all_to_all_single, so the same code runs on gloo (CPU) and NCCL (GPU). The
backward sends each bag's gradient to the same ranks, which update their rows with the optimizer fused, as
reckon.nn.EmbeddingBagCollection does on one process. reckon's C++ library has no communication code of its own.
Every tensor the exchanges make is on the device of the module's tables (move the module with .to(), as DDP's
dense part is moved), so NCCL exchanges CUDA tensors and gloo CPU ones.
"""
import torch
import torch.distributed as dist

from . import nn as reckon_nn


def plan_shards(num_embeddings, world_size, row_wise_from=None):
    """Per table ("table", rank) or ("row", None): tables of at least `row_wise_from` rows are cut into row ranges
    on every rank; the others go whole to the least loaded rank, largest first."""
    plan, load = [None] * len(num_embeddings), [0] * world_size
    for t in sorted(range(len(num_embeddings)), key=lambda t: -num_embeddings[t]):
        rows = num_embeddings[t]
        if row_wise_from is not None and rows >= row_wise_from:
            plan[t] = ("row", None)
            for r in range(world_size):
                load[r] += rows // world_size
        else:
            owner = min(range(world_size), key=lambda r: load[r])
            plan[t] = ("table", owner)
            load[owner] += rows
    return plan


def row_range(rows, rank, world_size):
    """Rank `rank`'s rows of a row-wise table: [lo, hi), equal chunks, the last one shorter."""
    chunk = -(-rows // world_size)
    return min(rank * chunk, rows), min((rank + 1) * chunk, rows)


class ShardedEmbeddingBagCollection(torch.nn.Module):
    """EmbeddingBagCollection's model, sharded: forward(indices, offsets) takes this rank's batch (one ids tensor
    and [B + 1] offsets per table) and returns its [B, T, D]; backward updates the rows wherever they live.

    The tables start as a single-process EmbeddingBagCollection built with the same arguments and `seed` would
    (each rank draws every table and keeps its shard), so the two can be compared. With `average_gradients` (the
    default) the rows' gradients are divided by the world size, matching DDP's averaging of the dense gradients:
    the sharded model then trains as one process would on the ranks' batches put together.
    """

    def __init__(self, num_embeddings, dim, plan, mode="sum", optimizer="adam", learning_rate=1e-3, eps=None,
                 betas=(0.9, 0.999), weight_decay=0.0, init_std=0.01, seed=0, process_group=None,
                 average_gradients=True):
        super().__init__()
        if len(plan) != len(num_embeddings):
            raise ValueError("a plan entry per table: %d tables, %d entries" % (len(num_embeddings), len(plan)))
        self.group = process_group
        self.rank, self.world = dist.get_rank(process_group), dist.get_world_size(process_group)
        self.num_embeddings, self.dim, self.mode, self.plan = list(num_embeddings), dim, mode, plan
        self.average_gradients = average_gradients
        self.bytes_sent = 0  # by the all-to-all exchanges (counts, ids, pooled sums, gradients), this rank
        # shards[d] = [(table, lo, hi)] held by rank d, in its local order.
        self.shards = [[] for _ in range(self.world)]
        for t, (kind, owner) in enumerate(plan):
            for d in range(self.world):
                if kind == "row":
                    lo, hi = row_range(num_embeddings[t], d, self.world)
                    self.shards[d].append((t, lo, hi))
                elif d == owner:
                    self.shards[d].append((t, 0, num_embeddings[t]))
        mine = self.shards[self.rank]
        self.local = reckon_nn.EmbeddingBagCollection([max(1, hi - lo) for _, lo, hi in mine] or [1], dim, "sum",
                                                      optimizer, learning_rate, eps, betas, weight_decay, 0.0,
                                                      torch.Generator())  # filled below; the global stream untouched
        # Every table drawn in order, one at a time, as the single-process collection draws them; this rank keeps
        # its rows of each.
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for t, rows in enumerate(num_embeddings):
                table = reckon_nn.initial_table(rows, dim, init_std, generator)
                for s, (held, lo, hi) in enumerate(mine):
                    if held == t:
                        getattr(self.local, "weight_%d" % s)[:hi - lo].copy_(table[lo:hi])
        self.placeholder = torch.nn.Parameter(torch.zeros(0))

    @property
    def device(self):
        return self.placeholder.device

    def shard_tables(self):
        """This rank's shards: (table, first row, end row, the rows)."""
        return [(t, lo, hi, self.local.tables()[s][:hi - lo]) for s, (t, lo, hi) in enumerate(self.shards[self.rank])]

    def forward(self, indices, offsets, per_sample_weights=None):
        """This rank's pooled [B, T, D]; per_sample_weights: optional, one float32 [nnz_t] (or None) per table, in
        sum mode (weighted bags: each weight travels with its id)."""
        if per_sample_weights is not None and self.mode != "sum":
            raise ValueError("per_sample_weights need mode 'sum', got %r" % (self.mode,))
        route = _route(self, indices, offsets, per_sample_weights)
        pooled = _FusedShardedBags.apply(self.placeholder, self, route)
        if self.mode == "mean":
            pooled = pooled / route.lengths.clamp(min=1).to(pooled.dtype).unsqueeze(-1)
        return pooled


class _Route:
    """One batch's exchange: what this rank received (per source, per local shard: bag lengths and ids) and what it
    needs back."""


def _check_input(c, indices, offsets):
    """This rank's input errors, shared with every rank before any exchange, so that all fail alike, none hangs."""
    problem = ""
    if len(indices) != len(c.num_embeddings) or len(offsets) != len(c.num_embeddings):
        problem = "expected ids and offsets for %d tables, got %d and %d" % (len(c.num_embeddings), len(indices),
                                                                             len(offsets))
    else:
        for t, (ids, off) in enumerate(zip(indices, offsets)):
            if off.dim() != 1 or off.numel() != offsets[0].numel():
                problem = "table %d: offsets must be [B + 1] with the same B for every table" % t
            elif ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= c.num_embeddings[t]):
                bad = ids[(ids < 0) | (ids >= c.num_embeddings[t])][0]
                problem = "table %d: id %d is outside [0, %d)" % (t, int(bad), c.num_embeddings[t])
            if problem:
                break
    flags = [torch.zeros(1, dtype=torch.int64, device=c.device) for _ in range(c.world)]
    dist.all_gather(flags, torch.tensor([1 if problem else 0], device=c.device), group=c.group)
    if problem:
        raise ValueError("rank %d: %s" % (c.rank, problem))
    failed = [r for r, f in enumerate(flags) if int(f)]
    if failed:
        raise RuntimeError("rank %d stops: rank(s) %s refused their input (their error says why)"
                           % (c.rank, ", ".join(map(str, failed))))


def _route(c, indices, offsets, per_sample_weights=None):
    """Sends each id (and its weight, when given) to the rank holding its row, with each bag's count of them there;
    returns the _Route."""
    _check_input(c, indices, offsets)
    batch = offsets[0].numel() - 1
    lengths = torch.stack([(o[1:] - o[:-1]).long() for o in offsets], dim=1)  # [B, T]
    sizes = [torch.zeros(1, dtype=torch.int64, device=c.device) for _ in range(c.world)]
    dist.all_gather(sizes, torch.tensor([batch], device=c.device), group=c.group)
    batches = [int(s) for s in sizes]
    weighted = per_sample_weights is not None
    if weighted and len(per_sample_weights) != len(indices):
        raise ValueError("per_sample_weights: one (or None) per table, got %d for %d tables"
                         % (len(per_sample_weights), len(indices)))
    send_lengths, send_ids, send_weights = [], [], []
    for d in range(c.world):
        for t, lo, hi in c.shards[d]:
            ids = indices[t].long()
            bag = torch.repeat_interleave(torch.arange(batch, device=c.device), lengths[:, t])
            keep = (ids >= lo) & (ids < hi)
            send_lengths.append(torch.bincount(bag[keep], minlength=batch))
            send_ids.append(ids[keep] - lo)
            if weighted:
                w = per_sample_weights[t]
                send_weights.append(torch.ones(len(ids), device=c.device)[keep] if w is None else w.detach()[keep])
    split_lengths = [len(c.shards[d]) * batch for d in range(c.world)]
    nothing = torch.zeros(0, dtype=torch.int64, device=c.device)
    got_lengths = _exchange(c, torch.cat(send_lengths) if send_lengths else nothing,
                            split_lengths, [len(c.shards[c.rank]) * b for b in batches])
    id_counts = [int(sum(x.numel() for x in send_ids[_first(c, d):_first(c, d + 1)])) for d in range(c.world)]
    mine = len(c.shards[c.rank])
    per_source = list(got_lengths.split([mine * b for b in batches]))
    got_ids = _exchange(c, torch.cat(send_ids) if send_ids else nothing, id_counts,
                        [int(p.sum()) for p in per_source])
    route = _Route()
    route.batch, route.batches, route.lengths = batch, batches, lengths
    route.shard_ids, route.shard_offsets = _local_bags(mine, per_source, got_ids, batches)
    route.shard_weights = []
    if weighted:  # the weights travel as the ids did, and are cut into the same bags
        got_weights = _exchange(c, torch.cat(send_weights) if send_weights else nothing.float(), id_counts,
                                [int(p.sum()) for p in per_source])
        route.shard_weights, _ = _local_bags(mine, per_source, got_weights, batches)
    return route


def _first(c, d):
    return sum(len(c.shards[x]) for x in range(d))


def _local_bags(shards, per_source, ids, batches):
    """Per local shard: every source's bags in source order, as ids and [sum(B_r) + 1] offsets."""
    lengths = [[] for _ in range(shards)]
    pieces = [[] for _ in range(shards)]
    at = 0
    for r, block in enumerate(per_source):
        for s, bag_lengths in enumerate(block.view(shards, batches[r]) if shards else []):
            count = int(bag_lengths.sum())
            lengths[s].append(bag_lengths)
            pieces[s].append(ids[at:at + count])
            at += count
    shard_ids, shard_offsets = [], []
    for s in range(shards):
        all_lengths = torch.cat(lengths[s])
        offsets = torch.zeros(all_lengths.numel() + 1, dtype=torch.int64, device=all_lengths.device)
        offsets[1:] = torch.cumsum(all_lengths, 0)
        shard_ids.append(torch.cat(pieces[s]))
        shard_offsets.append(offsets)
    return shard_ids, shard_offsets


def _exchange(c, send, send_splits, receive_splits, trailing=()):
    """all_to_all_single with splits in rows of `trailing` shape; counts the bytes this rank sends."""
    c.bytes_sent += send.numel() * send.element_size()
    out = torch.empty((sum(receive_splits),) + tuple(trailing), dtype=send.dtype, device=send.device)
    dist.all_to_all_single(out, send.contiguous(), receive_splits, send_splits, group=c.group)
    return out


class _FusedShardedBags(torch.autograd.Function):
    @staticmethod
    def forward(ctx, placeholder, c, route):
        ctx.c, ctx.route = c, route
        mine = c.shards[c.rank]
        pooled = (torch.ops.reckon.embedding_bags(c.local.tables(), route.shard_ids, route.shard_offsets, "sum",
                                                  route.shard_weights)
                  if mine else torch.zeros(sum(route.batches), 0, c.dim, device=c.device))  # [sum B_r, S, D]
        back = _exchange(c, pooled.reshape(-1, c.dim), [b * len(mine) for b in route.batches],
                         [route.batch * len(c.shards[d]) for d in range(c.world)], (c.dim,))
        out = torch.zeros(route.batch, len(c.num_embeddings), c.dim, device=c.device)
        at = 0
        for d in range(c.world):
            block = back[at:at + route.batch * len(c.shards[d])].view(route.batch, len(c.shards[d]), c.dim)
            at += route.batch * len(c.shards[d])
            for s, (t, _, _) in enumerate(c.shards[d]):
                out[:, t] += block[:, s]
        return out

    @staticmethod
    def backward(ctx, grad):
        c, route = ctx.c, ctx.route
        if c.average_gradients:
            grad = grad / c.world
        # Per destination, its tables' gradients as [B, S_d, D] rows, one block after the other.
        send = torch.cat([grad[:, [t for t, _, _ in c.shards[d]]].reshape(-1, c.dim) for d in range(c.world)])
        mine = len(c.shards[c.rank])
        blocks = []
        received = _exchange(c, send,
                             [route.batch * len(c.shards[d]) for d in range(c.world)],
                             [b * mine for b in route.batches], (c.dim,))
        at = 0
        for b in route.batches:
            blocks.append(received[at:at + b * mine].view(b, mine, c.dim))
            at += b * mine
        if mine:
            c.local._step(route.shard_ids, route.shard_offsets, torch.cat(blocks, dim=0), route.shard_weights)
        return None, None, None
