"""The operators with autograd: each forward is torch.ops.reckon.<name>, its backward the matching reckon kernel.

Each function is a leaf for torch.fx (torch.fx.wrap): a traced model calls it as one node.
"""
import torch
import torch.fx

_ops = torch.ops.reckon


class _FmInteraction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, src, values):
        ctx.save_for_backward(src, values)
        return _ops.fm_interaction(src, values)

    @staticmethod
    def backward(ctx, grad):
        src, values = ctx.saved_tensors
        return _ops.fm_interaction_backward(src, values, grad), None


@torch.fx.wrap
def fm_interaction(src, values=None):
    """FM's pairwise term per sample: sum over field pairs f < f' of <x_f e_f, x_f' e_f'>.

    src: float32 [B, F, K] (the gathered embedding rows); values: optional float32 [B, F] (1 when absent; not
    differentiated). Returns float32 [B]. Bitwise the same on every run (kernels/fm/fm.h).
    """
    return _FmInteraction.apply(src.contiguous(), None if values is None else values.contiguous())


class _EmbeddingBag(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, indices, offsets, mode, per_sample_weights):
        ctx.save_for_backward(weight, indices, offsets, per_sample_weights)
        ctx.mode = mode
        return _ops.embedding_bag(weight, indices, offsets, mode, per_sample_weights)

    @staticmethod
    def backward(ctx, grad):
        weight, indices, offsets, per_sample_weights = ctx.saved_tensors
        diff = _ops.embedding_bag_backward(grad, weight, indices, offsets, ctx.mode, per_sample_weights)
        return diff, None, None, None, None


@torch.fx.wrap
def embedding_bag(weight, indices, offsets, mode="sum", per_sample_weights=None):
    """Pooled lookup of one table: bag b is rows indices[offsets[b]:offsets[b + 1]] of weight, summed or averaged.

    weight: float32 [N, D]; indices, offsets: int32 or int64 (one type), offsets [B + 1] (torch's
    include_last_offset=True); per_sample_weights: optional float32 [nnz], with mode "sum". Returns float32 [B, D].
    An id outside [0, N) raises IndexError naming it. The weight's gradient is dense (rows no bag touched are 0).
    """
    return _EmbeddingBag.apply(weight, indices.contiguous(), offsets.contiguous(), mode,
                               None if per_sample_weights is None else per_sample_weights.contiguous())


class _EmbeddingBags(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mode, indices, offsets, *weights):
        ctx.save_for_backward(*weights, *indices, *offsets)
        ctx.mode, ctx.tables = mode, len(weights)
        return _ops.embedding_bags(list(weights), list(indices), list(offsets), mode)

    @staticmethod
    def backward(ctx, grad):
        saved, t = ctx.saved_tensors, ctx.tables
        weights, indices, offsets = saved[:t], saved[t:2 * t], saved[2 * t:]
        grads = _ops.embedding_bags_backward(grad, list(weights), list(indices), list(offsets), ctx.mode)
        return (None, None, None, *grads)


@torch.fx.wrap
def embedding_bags(weights, indices, offsets, mode="sum"):
    """Several tables in one call (FBGEMM's table-batched layout): table t's bags from indices[t], offsets[t]
    ([B + 1] each, the same B), every table [N_t, D] with the same D. Returns float32 [B, T, D]. The gradients of the
    tables are dense; reckon.nn.EmbeddingBagCollection fuses the optimizer into the backward instead."""
    indices = tuple(i.contiguous() for i in indices)
    offsets = tuple(o.contiguous() for o in offsets)
    return _EmbeddingBags.apply(mode, indices, offsets, *weights)
