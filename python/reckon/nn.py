"""Modules on reckon's operators."""
import torch

from . import ops


class FMInteraction(torch.nn.Module):
    """FM's pairwise interaction of [B, F, K] field embeddings (optionally scaled by [B, F] values) -> [B]."""

    def forward(self, src, values=None):
        return ops.fm_interaction(src, values)


class EmbeddingBag(torch.nn.Module):
    """One table of num_embeddings x dim, pooled over CSR bags ([B + 1] offsets), sum or mean."""

    def __init__(self, num_embeddings, dim, mode="sum", init_std=0.01):
        super().__init__()
        if mode not in ("sum", "mean"):
            raise ValueError("mode must be 'sum' or 'mean', got %r" % (mode,))
        self.mode = mode
        self.weight = torch.nn.Parameter(torch.randn(num_embeddings, dim) * init_std)

    def forward(self, indices, offsets, per_sample_weights=None):
        return ops.embedding_bag(self.weight, indices, offsets, self.mode, per_sample_weights)


def initial_table(rows, dim, init_std, generator=None):
    """A table's starting rows, N(0, init_std^2), drawn from `generator` (tables are drawn in table order)."""
    return torch.randn(rows, dim, generator=generator) * init_std


_STATE = {"sgd": (False, False), "adagrad": (True, False), "rowwise-adagrad": (True, False), "adam": (True, True)}


class _FusedEmbeddingBags(torch.autograd.Function):
    """Forward: the tables' pooled bags. Backward: the collection's optimizer step on the touched rows, in place;
    no gradient flows to the tables (the placeholder carries the autograd edge, as FBGEMM's TBE does)."""

    @staticmethod
    def forward(ctx, placeholder, collection, indices, offsets):
        ctx.collection, ctx.indices, ctx.offsets = collection, indices, offsets
        return torch.ops.reckon.embedding_bags(collection.tables(), indices, offsets, collection.mode)

    @staticmethod
    def backward(ctx, grad):
        ctx.collection._step(ctx.indices, ctx.offsets, grad)
        return None, None, None, None


class EmbeddingBagCollection(torch.nn.Module):
    """One table per feature, pooled bags from each feature's ids and [B + 1] offsets, the optimizer fused into the
    backward (sgd, adagrad, rowwise-adagrad, adam: reckon's lazy sparse updates of the touched rows).

    The tables and the optimizer's state are buffers, so state_dict() checkpoints them and the step count; they are
    not parameters, so an outer torch optimizer leaves them alone. forward(indices, offsets) takes a list of each,
    one per table, and returns float32 [B, T, D].
    """

    def __init__(self, num_embeddings, dim, mode="sum", optimizer="adam", learning_rate=1e-3, eps=None,
                 betas=(0.9, 0.999), weight_decay=0.0, init_std=0.01, generator=None):
        super().__init__()
        if optimizer not in _STATE:
            raise ValueError("optimizer must be one of %s, got %r" % (", ".join(_STATE), optimizer))
        if mode not in ("sum", "mean"):
            raise ValueError("mode must be 'sum' or 'mean', got %r" % (mode,))
        self.mode, self.optimizer, self.learning_rate = mode, optimizer, learning_rate
        self.eps = -1.0 if eps is None else eps  # -1: the kind's default (kernels/optim/optimizer.h)
        self.betas, self.weight_decay = betas, weight_decay
        self.num_tables = len(num_embeddings)
        first, second = _STATE[optimizer]
        for t, rows in enumerate(num_embeddings):
            self.register_buffer("weight_%d" % t, initial_table(rows, dim, init_std, generator))
            if first:
                shape = (rows,) if optimizer == "rowwise-adagrad" else (rows, dim)
                self.register_buffer("state1_%d" % t, torch.zeros(shape))
            if second:
                self.register_buffer("state2_%d" % t, torch.zeros(rows, dim))
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        self.placeholder = torch.nn.Parameter(torch.zeros(0))

    def tables(self):
        return [getattr(self, "weight_%d" % t) for t in range(self.num_tables)]

    def _states(self, which):
        return [getattr(self, name) for name in ("%s_%d" % (which, t) for t in range(self.num_tables))
                if hasattr(self, name)]

    def _step(self, indices, offsets, grad):
        self.step += 1
        torch.ops.reckon.embedding_bags_update(
            self.tables(), self._states("state1"), self._states("state2"), indices, offsets, grad, self.mode,
            self.optimizer, self.learning_rate, self.eps, self.betas[0], self.betas[1], self.weight_decay,
            int(self.step))

    def forward(self, indices, offsets):
        if len(indices) != self.num_tables or len(offsets) != self.num_tables:
            raise ValueError("expected ids and offsets for %d tables, got %d and %d"
                             % (self.num_tables, len(indices), len(offsets)))
        indices = [i.contiguous() for i in indices]
        offsets = [o.contiguous() for o in offsets]
        if not torch.is_grad_enabled():
            return torch.ops.reckon.embedding_bags(self.tables(), indices, offsets, self.mode)
        return _FusedEmbeddingBags.apply(self.placeholder, self, indices, offsets)
