"""Models in plain PyTorch on reckon's modules."""
import torch

from . import nn as reckon_nn


class DeepFM(torch.nn.Module):
    """DeepFM (Guo et al. 2017) with one categorical id per field, as `reckon ctr train --model deepfm` builds it:
    logit = bias + sum_f w[x_f] + FM(e[x_f]) + MLP(concat_f e[x_f]).

    The first-order weights and the embeddings are EmbeddingBagCollections (one table per field) with the sparse
    optimizer fused into the backward; the MLP (reckon.nn.Linear layers with the ReLU fused; mlp="torch" for
    torch.nn.Linear + ReLU) and the bias are ordinary parameters for a torch optimizer (dense_parameters()).
    forward(ids) takes int64 [B, F] field-local ids and returns [B] logits.
    """

    def __init__(self, field_rows, dim=16, hidden=(400, 400, 400), optimizer="adam", learning_rate=1e-3,
                 init_std=0.01, generator=None, mlp="reckon"):
        super().__init__()
        self.fields = len(field_rows)
        self.embeddings = reckon_nn.EmbeddingBagCollection(field_rows, dim, optimizer=optimizer,
                                                           learning_rate=learning_rate, init_std=init_std,
                                                           generator=generator)
        self.first_order = reckon_nn.EmbeddingBagCollection(field_rows, 1, optimizer=optimizer,
                                                            learning_rate=learning_rate, init_std=0.0)
        self.fm = reckon_nn.FMInteraction()
        if mlp == "reckon":
            self.mlp = reckon_nn.mlp(self.fields * dim, hidden)
        elif mlp == "torch":
            layers, width = [], self.fields * dim
            for h in hidden:
                layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
                width = h
            self.mlp = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
        else:
            raise ValueError("mlp must be 'reckon' or 'torch', got %r" % (mlp,))
        self.bias = torch.nn.Parameter(torch.zeros(1))

    def dense_parameters(self):
        return list(self.mlp.parameters()) + [self.bias]

    def forward(self, ids):
        batch = ids.shape[0]
        offsets = [torch.arange(batch + 1, dtype=torch.int64, device=ids.device)] * self.fields
        columns = list(ids.t().contiguous().unbind(0))  # one copy; each field's ids a contiguous row
        v = self.embeddings(columns, offsets)  # [B, F, K]
        first = self.first_order(columns, offsets).sum(dim=(1, 2))
        return self.bias + first + self.fm(v) + self.mlp(v.reshape(batch, -1)).squeeze(1)
