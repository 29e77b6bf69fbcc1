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
    def forward(ctx, placeholder, collection, indices, offsets, sample_weights):
        ctx.collection, ctx.indices, ctx.offsets, ctx.sample_weights = collection, indices, offsets, sample_weights
        return torch.ops.reckon.embedding_bags(collection.tables(), indices, offsets, collection.mode, sample_weights)

    @staticmethod
    def backward(ctx, grad):
        ctx.collection._step(ctx.indices, ctx.offsets, grad, ctx.sample_weights)
        return None, None, None, None, None


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
        self._host_step = None  # the step count on the host, so a GPU step never reads the buffer back
        self.placeholder = torch.nn.Parameter(torch.zeros(0))

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._host_step = None

    def tables(self):
        return [getattr(self, "weight_%d" % t) for t in range(self.num_tables)]

    def _states(self, which):
        return [getattr(self, name) for name in ("%s_%d" % (which, t) for t in range(self.num_tables))
                if hasattr(self, name)]

    def _step(self, indices, offsets, grad, sample_weights=()):
        if self._host_step is None:
            self._host_step = int(self.step)
        self._host_step += 1
        self.step.fill_(self._host_step)
        torch.ops.reckon.embedding_bags_update(
            self.tables(), self._states("state1"), self._states("state2"), indices, offsets, grad, self.mode,
            self.optimizer, self.learning_rate, self.eps, self.betas[0], self.betas[1], self.weight_decay,
            self._host_step, list(sample_weights))

    def forward(self, indices, offsets, per_sample_weights=None):
        """Pooled [B, T, D]; per_sample_weights: optional, one float32 [nnz_t] (or None) per table, sum mode."""
        if len(indices) != self.num_tables or len(offsets) != self.num_tables:
            raise ValueError("expected ids and offsets for %d tables, got %d and %d"
                             % (self.num_tables, len(indices), len(offsets)))
        indices = [i.contiguous() for i in indices]
        offsets = [o.contiguous() for o in offsets]
        weights = ops.sample_weights_list(per_sample_weights, self.num_tables)
        if not torch.is_grad_enabled():
            return torch.ops.reckon.embedding_bags(self.tables(), indices, offsets, self.mode, weights)
        return _FusedEmbeddingBags.apply(self.placeholder, self, indices, offsets, weights)


class SkipGram(torch.nn.Module):
    """item2vec / word2vec tables trained by skip-gram with negative sampling, as gensim's Word2Vec(sg=1) trains.

    counts: int64 [V], how often each id occurs (the negatives are drawn from counts ** alpha and frequent ids are
    subsampled with `sample`). Input vectors start uniform in [-0.5 / dim, 0.5 / dim), output vectors at zero, as
    word2vec.c starts them. Both are buffers (in state_dict); no optimizer is involved: step() updates them.
    """

    def __init__(self, counts, dim=100, window=5, negatives=5, alpha=0.75, sample=1e-3, seed=1):
        super().__init__()
        counts = torch.as_tensor(counts, dtype=torch.int64).contiguous()
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("input_vectors", (torch.rand(len(counts), dim, generator=generator) - 0.5) / dim)
        self.register_buffer("output_vectors", torch.zeros(len(counts), dim))
        prob, alias = ops.alias_table(counts, alpha)
        self.register_buffer("alias_prob", prob)  # buffers, so .to(device) takes the sampler along
        self.register_buffer("alias_index", alias)
        self.keep = ops.subsample_keep_probability(counts, sample)  # subsampling runs on the host
        self.window, self.negatives, self.seed, self.batches = window, negatives, seed, 0

    def step(self, tokens, offsets, learning_rate=0.025, sequential=False, compute_loss=False):
        """Trains on one batch of sentences (tokens int32 [N], offsets int64 [S + 1]), subsampled first (on the host,
        then moved to the tables' device); returns float64 [3] (pairs, pairs with loss, loss). Each batch draws from
        its own random stream."""
        self.batches += 1
        tokens, offsets = ops.subsample_sentences(tokens.cpu(), offsets.cpu(), self.keep, self.seed, 2 * self.batches)
        device = self.input_vectors.device
        return ops.sgns_step(self.input_vectors, self.output_vectors, tokens.to(device), offsets.to(device),
                             (self.alias_prob, self.alias_index), self.window, self.negatives, learning_rate,
                             self.seed, 2 * self.batches + 1, sequential, compute_loss)

    def most_similar(self, ids, k=10):
        """The k nearest ids of each id by cosine similarity, itself excluded: (scores [Q, k], ids int32 [Q, k])."""
        unit = torch.nn.functional.normalize(self.input_vectors, dim=1)
        ids = torch.as_tensor(ids, dtype=torch.int64, device=unit.device)
        rows = torch.arange(len(ids), dtype=torch.int32, device=unit.device)
        return ops.topk_product(unit[ids], unit, k, (rows, ids.to(torch.int32)))


class Conv3d(torch.nn.Module):
    """torch.nn.Conv3d on reckon's kernels (zero padding, float32), channels first or last (layout "ndhwc": input
    [N, D, H, W, C], weight [K, T, R, S, C/groups]). Initialised as torch initialises its Conv3d."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 layout="ncdhw"):
        super().__init__()
        reference = torch.nn.Conv3d(in_channels, out_channels, tuple(ops._triple(kernel_size)), groups=groups,
                                    bias=bias)
        weight = reference.weight.detach()
        self.weight = torch.nn.Parameter(weight if layout == "ncdhw" else weight.permute(0, 2, 3, 4, 1).contiguous())
        self.bias = torch.nn.Parameter(reference.bias.detach()) if bias else None
        self.stride, self.padding, self.dilation, self.groups, self.layout = stride, padding, dilation, groups, layout

    def forward(self, x):
        return ops.conv3d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, self.layout)


class GRU(torch.nn.Module):
    """One GRU layer over time-major input [T, B, I] (torch.nn.GRU's maths and gate order, weights stored as
    w_x [I, 3H], w_h [H, 3H]). Training runs the whole sequence in one reckon call each way (ops.gru_layer);
    without autograd (torch.no_grad() or inference mode) the inference layer runs (ops.gru: cuDNN's RNN first on a
    GPU). Returns (y [T, B, H], h_T [B, H])."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        reference = torch.nn.GRU(input_size, hidden_size)
        self.w_x = torch.nn.Parameter(reference.weight_ih_l0.detach().T.contiguous())
        self.w_h = torch.nn.Parameter(reference.weight_hh_l0.detach().T.contiguous())
        self.b_x = torch.nn.Parameter(reference.bias_ih_l0.detach().clone())
        self.b_h = torch.nn.Parameter(reference.bias_hh_l0.detach().clone())

    def forward(self, x, h0=None):
        if not torch.is_grad_enabled():
            y = ops.gru(x, h0, self.w_x, self.w_h, self.b_x, self.b_h)
            return y, y[-1]
        h0 = x.new_zeros(x.shape[1], self.w_h.shape[0]) if h0 is None else h0
        y = ops.gru_layer(x, h0, self.w_x, self.w_h, self.b_x, self.b_h)
        return y, y[-1]


class Linear(torch.nn.Module):
    """A dense layer on reckon's kernels, optionally with its ReLU fused: weight [in, out] (the transpose of
    torch.nn.Linear's), bias [out]; initialised as torch.nn.Linear initialises."""

    def __init__(self, in_features, out_features, bias=True, relu=False):
        super().__init__()
        reference = torch.nn.Linear(in_features, out_features, bias=bias)
        self.weight = torch.nn.Parameter(reference.weight.detach().T.contiguous())
        self.bias = torch.nn.Parameter(reference.bias.detach().clone()) if bias else None
        self.relu = relu

    def forward(self, x):
        return ops.linear(x, self.weight, self.bias, self.relu)


def mlp(in_features, hidden, out_features=1):
    """Linear + ReLU layers of the hidden widths, then a plain Linear to out_features: DeepFM's deep part."""
    layers, width = [], in_features
    for h in hidden:
        layers.append(Linear(width, h, relu=True))
        width = h
    layers.append(Linear(width, out_features))
    return torch.nn.Sequential(*layers)
