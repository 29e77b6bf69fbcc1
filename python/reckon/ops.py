"""The operators with autograd: each forward is torch.ops.reckon.<name>, its backward the matching reckon kernel.

Each function is a leaf for torch.fx (torch.fx.wrap): a traced model calls it as one node.
"""
import torch
import torch.fx

_ops = torch.ops.reckon


def check_errors(device=None):
    """Raises the first input error (an out-of-range id, malformed offsets) that reckon's kernels recorded on
    `device` since the last check, as IndexError or ValueError with reckon's message. On the CPU the operators raise
    at once and this does nothing; on a GPU, kernels cannot raise, so they record the error, leave the bad item
    unwritten and hold back state updates until it is raised here. Call it between steps (every step while
    debugging, or every N): it synchronises the device. Default device: the current CUDA device, if any."""
    if device is None:
        device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else "cpu"
    _ops.check_errors(torch.empty(0, device=device))


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
    def forward(ctx, mode, indices, offsets, sample_weights, *weights):
        ctx.save_for_backward(*weights, *indices, *offsets)
        ctx.mode, ctx.tables, ctx.sample_weights = mode, len(weights), sample_weights
        return _ops.embedding_bags(list(weights), list(indices), list(offsets), mode, sample_weights)

    @staticmethod
    def backward(ctx, grad):
        saved, t = ctx.saved_tensors, ctx.tables
        weights, indices, offsets = saved[:t], saved[t:2 * t], saved[2 * t:]
        grads = _ops.embedding_bags_backward(grad, list(weights), list(indices), list(offsets), ctx.mode,
                                             ctx.sample_weights)
        return (None, None, None, None, *grads)


def sample_weights_list(per_sample_weights, tables):
    """None, or one float32 [nnz] (or None) per table, made contiguous; not differentiated."""
    if per_sample_weights is None:
        return []
    if len(per_sample_weights) != tables:
        raise ValueError("per_sample_weights: one (or None) per table, got %d for %d tables"
                         % (len(per_sample_weights), tables))
    return [None if w is None else w.detach().contiguous() for w in per_sample_weights]


@torch.fx.wrap
def embedding_bags(weights, indices, offsets, mode="sum", per_sample_weights=None):
    """Several tables in one call (FBGEMM's table-batched layout): table t's bags from indices[t], offsets[t]
    ([B + 1] each, the same B), every table [N_t, D] with the same D. per_sample_weights: optional, one float32
    [nnz_t] (or None) per table, sum mode (weighted bags; not differentiated). Returns float32 [B, T, D]. The
    gradients of the tables are dense; reckon.nn.EmbeddingBagCollection fuses the optimizer into the backward
    instead."""
    indices = tuple(i.contiguous() for i in indices)
    offsets = tuple(o.contiguous() for o in offsets)
    return _EmbeddingBags.apply(mode, indices, offsets, sample_weights_list(per_sample_weights, len(weights)),
                                *weights)


class _FmInteractionFused(torch.autograd.Function):
    @staticmethod
    def forward(ctx, indices, values, *tables):
        ctx.save_for_backward(indices, values, *tables)
        return _ops.fm_interaction_fused(list(tables), indices, values)

    @staticmethod
    def backward(ctx, grad):
        indices, values, *tables = ctx.saved_tensors
        rows = _ops.fm_interaction_fused_backward(tables, indices, values, grad)
        grads = [torch.zeros_like(t).index_add_(0, indices[:, f], rows[:, f]) for f, t in enumerate(tables)]
        return (None, None, *grads)


@torch.fx.wrap
def fm_interaction_fused(tables, indices, values=None):
    """FM's pairwise term with the gather fused: field f's row of sample b is tables[f][indices[b, f]], read in the
    kernel (no [B, F, K] gather). tables: F float32 [N_f, K]; indices: int32 or int64 [B, F]; values: optional
    float32 [B, F]. Returns float32 [B]; an id outside its table raises IndexError naming field, sample and id.
    The tables' gradients are dense."""
    return _FmInteractionFused.apply(indices.contiguous(), None if values is None else values.contiguous(), *tables)


@torch.fx.wrap
def topk(scores, k):
    """The k largest entries of each row of float32 scores [Q, N], largest first (ties: lower column first; NaN
    counts as -inf). Returns (scores float32 [Q, k], columns int32 [Q, k]); a row with fewer than k entries above
    -inf fills the rest with column -1."""
    return _ops.topk(scores.contiguous(), k)


@torch.fx.wrap
def topk_product(queries, items, k, exclude=None):
    """The k best items per query by inner product, queries float32 [Q, D] against items float32 [N, D], without
    materialising more than about 256 MiB of scores. exclude: optional (rows, columns) int tensors listing
    (query, item) pairs left out (a session's own items). Returns (scores [Q, k], columns int32 [Q, k])."""
    rows, columns = (None, None) if exclude is None else (exclude[0].contiguous(), exclude[1].contiguous())
    return _ops.topk_product(queries.contiguous(), items.contiguous(), k, rows, columns)


def alias_table(counts, alpha=0.75):
    """Walker's alias table drawing id k with probability proportional to counts[k] ** alpha (int64 [V], CPU)."""
    return _ops.alias_table(counts, alpha)


def subsample_keep_probability(counts, threshold=1e-3):
    """word2vec's subsampling: the probability of keeping each id, min(1, sqrt(t / f) + t / f)."""
    return _ops.subsample_keep_probability(counts, threshold)


def subsample_sentences(tokens, offsets, keep, seed, stream):
    """Drops token i when a uniform draw (seed, stream, i) is at least keep[token]; sentences keep their
    boundaries. tokens int32 [N], offsets int64 [S + 1]. Returns the kept (tokens, offsets)."""
    return _ops.subsample_sentences(tokens, offsets, keep, seed, stream)


def sgns_step(input_vectors, output_vectors, tokens, offsets, sampler, window=5, negatives=5, learning_rate=0.025,
              seed=1, stream=0, sequential=False, compute_loss=False):
    """One skip-gram step with negative sampling over a batch of sentences (kernels/skipgram/skipgram.h): both
    tables (float32 [V, D]) are updated in place. sampler: alias_table(counts). With sequential=True the step is
    bitwise repeatable; otherwise centers run in parallel (Hogwild). Returns float64 [3]: pairs trained, pairs
    whose loss was computed, their summed loss."""
    prob, alias = sampler
    return _ops.sgns_step(input_vectors, output_vectors, tokens, offsets, prob, alias, window, negatives,
                          learning_rate, seed, stream, sequential, compute_loss)


def _triple(v):
    return [int(v)] * 3 if isinstance(v, int) else [int(x) for x in v]


class _Conv3d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, bias, geometry):
        ctx.save_for_backward(x, w)
        ctx.geometry, ctx.has_bias = geometry, bias is not None
        return _ops.conv3d(x, w, bias, *geometry)

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        dx = dw = dbias = None
        if ctx.needs_input_grad[0]:
            dx = _ops.conv3d_backward_data(dy, w, list(x.shape), *ctx.geometry)
        if ctx.needs_input_grad[1] or (ctx.has_bias and ctx.needs_input_grad[2]):
            dw, dbias = _ops.conv3d_backward_weights(x, dy, list(w.shape), *ctx.geometry)
        return dx, dw, dbias if ctx.has_bias else None, None


@torch.fx.wrap
def conv3d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, layout="ncdhw"):
    """3D convolution (kernels/conv3d/conv3d.h), torch's F.conv3d for layout "ncdhw": x [N, C, D, H, W], w [K, C/g,
    T, R, S], bias [K] or None. "ndhwc" (channels last): x [N, D, H, W, C], w [K, T, R, S, C/g], y [N, Z, P, Q, K].
    float32; zero padding; differentiable in x, w and bias."""
    geometry = (_triple(stride), _triple(padding), _triple(dilation), int(groups), layout)
    return _Conv3d.apply(x.contiguous(), w.contiguous(), None if bias is None else bias.contiguous(), geometry)


class _Pool3d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, settings):
        y, argmax = _ops.pool3d(x, *settings)
        ctx.save_for_backward(argmax)
        ctx.settings, ctx.x_sizes = settings, list(x.shape)
        ctx.mark_non_differentiable(argmax)
        return y

    @staticmethod
    def backward(ctx, dy):
        (argmax,) = ctx.saved_tensors
        return _ops.pool3d_backward(dy, argmax, ctx.x_sizes, *ctx.settings), None


@torch.fx.wrap
def pool3d(x, mode, kernel, stride=None, padding=0, count_include_pad=True, layout="ncdhw"):
    """Max ("max") or average ("avg") pooling over D, H, W windows, torch's F.max_pool3d / F.avg_pool3d (stride
    defaults to the kernel; padding at most half the kernel). The max's gradient goes to the first maximum of each
    window."""
    settings = (mode, _triple(kernel), _triple(0 if stride is None else stride), _triple(padding),
                bool(count_include_pad), layout)
    return _Pool3d.apply(x.contiguous(), settings)


class _GlobalPool3d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lengths, mode, layout):
        y, argmax = _ops.global_pool3d(x, lengths, mode, layout)
        ctx.save_for_backward(lengths, argmax)
        ctx.mode, ctx.layout, ctx.x_sizes = mode, layout, list(x.shape)
        return y

    @staticmethod
    def backward(ctx, dy):
        lengths, argmax = ctx.saved_tensors
        return _ops.global_pool3d_backward(dy, lengths, argmax, ctx.x_sizes, ctx.mode, ctx.layout), None, None, None


@torch.fx.wrap
def global_pool3d(x, lengths=None, mode="max", layout="ncdhw"):
    """Max or mean of each (sample, channel) over D, H and W -> [N, C]; with lengths (int32 [N]) only the first
    lengths[n] positions along D count (sessions padded to one length; a length of 0 gives 0)."""
    return _GlobalPool3d.apply(x.contiguous(), None if lengths is None else lengths.to(torch.int32).contiguous(),
                               mode, layout)


class _GruCell(torch.autograd.Function):
    @staticmethod
    def forward(ctx, gates_x, gates_h, h):
        h_out, saved = _ops.gru_cell(gates_x, gates_h, h)
        ctx.save_for_backward(h, saved)
        return h_out

    @staticmethod
    def backward(ctx, grad):
        h, saved = ctx.saved_tensors
        return tuple(_ops.gru_cell_backward(h, saved, grad))


@torch.fx.wrap
def gru_cell(gates_x, gates_h, h):
    """The GRU cell between its two products (kernels/gru/gru.h; PyTorch's and cuDNN's gate order r, z, n):
    gates_x = x W_x + b_x and gates_h = h W_h + b_h, both [B, 3H]; h [B, H]. Returns h' [B, H]; differentiable in
    all three (h by its direct path; the path through gates_h is the product's, which autograd follows)."""
    return _GruCell.apply(gates_x.contiguous(), gates_h.contiguous(), h.contiguous())


class _GruLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, w_x, w_h, b_x, b_h):
        y, saved = _ops.gru_train(x, h0, w_x, w_h, b_x, b_h)
        ctx.save_for_backward(x, h0, w_x, w_h, y, saved)
        return y

    @staticmethod
    def backward(ctx, grad):
        return tuple(_ops.gru_train_backward(*ctx.saved_tensors, grad))


@torch.fx.wrap
def gru_layer(x, h0, w_x, w_h, b_x, b_h):
    """A GRU layer over time-major x [T, B, I] for training: y [T, B, H], differentiable in x, h0 [B, H] and the
    weights (w_x [I, 3H], w_h [H, 3H], b_x, b_h [3H]). The steps run in C++: one product for every step's input
    gates, then per step the hidden product and the fused cell; the backward through time likewise, the weight
    gradients as one product each."""
    return _GruLayer.apply(*(t.contiguous() for t in (x, h0, w_x, w_h, b_x, b_h)))


def gru(x, h0, w_x, w_h, b_x, b_h):
    """A GRU layer over time-major x [T, B, I] for inference (no autograd): y [T, B, H]. w_x [I, 3H], w_h [H, 3H]."""
    return _ops.gru(x.contiguous(), None if h0 is None else h0.contiguous(), w_x.contiguous(), w_h.contiguous(),
                    b_x.contiguous(), b_h.contiguous())


class _SoftmaxCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets):
        losses, diff = _ops.softmax_cross_entropy(logits, targets, 1.0)
        ctx.save_for_backward(diff)
        return losses

    @staticmethod
    def backward(ctx, grad):
        (diff,) = ctx.saved_tensors
        return diff * grad.unsqueeze(1), None


@torch.fx.wrap
def softmax_cross_entropy(logits, targets):
    """Per-row cross-entropy of softmax(logits) [B, N] against targets [B] (a target of -1: the row takes no part,
    loss 0); torch's F.cross_entropy(..., reduction="none", ignore_index=-1) computed with its gradient in one pass
    over each row (kept for the backward: [B, N] memory, no second pass)."""
    return _SoftmaxCrossEntropy.apply(logits.contiguous(), targets)


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, bias, relu):
        y = _ops.linear(x, w, bias, relu)
        ctx.save_for_backward(x, w, y)
        ctx.relu, ctx.has_bias = relu, bias is not None
        return y

    @staticmethod
    def backward(ctx, grad):
        x, w, y = ctx.saved_tensors
        dx, dw, dbias = _ops.linear_backward(x, w, y, grad, ctx.relu)
        return dx, dw, dbias if ctx.has_bias else None, None


@torch.fx.wrap
def linear(x, w, bias=None, relu=False):
    """y = x w + bias, then ReLU when relu: x float32 [B, in], w [in, out] (the transpose of torch.nn.Linear's
    weight), bias [out] or None. The bias and ReLU run inside the product's epilogue; the backward applies the
    ReLU's mask and forms dx, dw and dbias (kernels/dense/dense.h)."""
    return _Linear.apply(x.contiguous(), w.contiguous(), None if bias is None else bias.contiguous(), bool(relu))


class _BprMax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, scores, bias, targets, column_items, regularization):
        losses, diff = _ops.bpr_max_loss(scores, bias, targets, column_items, regularization, 1.0)
        ctx.save_for_backward(diff)
        ctx.has_bias = bias is not None
        return losses

    @staticmethod
    def backward(ctx, grad):
        (diff,) = ctx.saved_tensors
        diff_scores = diff * grad.unsqueeze(1)
        return diff_scores, diff_scores.sum(0) if ctx.has_bias else None, None, None, None


@torch.fx.wrap
def bpr_max_loss(scores, targets, column_items, bias=None, regularization=1.0):
    """GRU4Rec's BPR-max (Hidasi & Karatzoglou 2018) per row over sampled columns (kernels/softmax/softmax.h):
    scores float32 [B, M] (each row against the batch's and the sampled items' columns), targets [B] (the row's
    target column, -1 for no part), column_items [M] (the item of each column: columns holding the target's item
    are never negatives), bias [M] or None. Returns losses [B]; differentiable in scores and bias."""
    return _BprMax.apply(scores.contiguous(), None if bias is None else bias.contiguous(), targets, column_items,
                         float(regularization))
