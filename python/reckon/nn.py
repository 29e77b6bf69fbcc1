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
