"""Table-batched lookups and reckon.nn.EmbeddingBagCollection's fused optimizers against PyTorch's own."""
import copy

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import reckon  # noqa: E402
from reckon import ops  # noqa: E402

ROWS = [40, 7, 100]


def jagged(generator, batch=16, most=4):
    indices, offsets = [], []
    for rows in ROWS:
        lengths = torch.randint(0, most + 1, (batch,), generator=generator)
        o = torch.zeros(batch + 1, dtype=torch.int64)
        o[1:] = torch.cumsum(lengths, 0)
        indices.append(torch.randint(0, rows, (int(o[-1]),), generator=generator))
        offsets.append(o)
    return indices, offsets


def torch_bags(weights, indices, offsets, mode):
    return torch.stack([F.embedding_bag(i, w, o, mode=mode, include_last_offset=True)
                        for w, i, o in zip(weights, indices, offsets)], dim=1)


def assert_same_values_and_gradients(got, want, weights, generator):
    """got and want equal, and so are their gradients in the tables under a random upstream; returns those."""
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    upstream = torch.randn(got.shape, generator=generator)
    grads = torch.autograd.grad((got * upstream).sum(), weights)
    want_grads = torch.autograd.grad((want * upstream).sum(), weights)
    for a, b in zip(grads, want_grads):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    return upstream, want_grads


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_table_batched_lookup_and_gradient_match_torch(mode):
    g = torch.Generator().manual_seed(1)
    weights = [torch.randn(rows, 8, generator=g, requires_grad=True) for rows in ROWS]
    indices, offsets = jagged(g)
    got = ops.embedding_bags(weights, indices, offsets, mode)
    want = torch_bags(weights, indices, offsets, mode)
    assert got.shape == (16, 3, 8)
    assert_same_values_and_gradients(got, want, weights, g)


def reference_step(collection, optimizer_factory, indices, offsets, upstream, steps):
    """The same model with plain tables as parameters and a torch optimizer."""
    weights = [torch.nn.Parameter(w.clone()) for w in collection.tables()]
    optimizer = optimizer_factory(weights)
    for _ in range(steps):
        optimizer.zero_grad()
        (torch_bags(weights, indices, offsets, collection.mode) * upstream).sum().backward()
        optimizer.step()
    return weights


@pytest.mark.parametrize("kind, factory", [
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1)),
    ("adagrad", lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-10)),
    ("adam", lambda p: torch.optim.SparseAdam(p, lr=0.01)),
])
def test_fused_optimizers_step_like_torchs(kind, factory):
    g = torch.Generator().manual_seed(2)
    lr = 0.01 if kind == "adam" else 0.1
    collection = reckon.nn.EmbeddingBagCollection(ROWS, 4, optimizer=kind, learning_rate=lr, init_std=0.5,
                                                  generator=g)
    indices, offsets = jagged(g)
    upstream = torch.randn(16, 3, 4, generator=g)
    if kind == "adam":  # SparseAdam needs sparse gradients: the reference uses sparse embedding bags
        weights = [torch.nn.Parameter(w.clone()) for w in collection.tables()]
        optimizer = torch.optim.SparseAdam(weights, lr=lr)
        for _ in range(3):
            optimizer.zero_grad()
            out = torch.stack([F.embedding_bag(i, w, o, mode="sum", include_last_offset=True, sparse=True)
                               for w, i, o in zip(weights, indices, offsets)], dim=1)
            (out * upstream).sum().backward()
            optimizer.step()
    else:
        weights = reference_step(collection, factory, indices, offsets, upstream, 3)
    for _ in range(3):
        (collection(indices, offsets) * upstream).sum().backward()
    assert int(collection.step) == 3
    for got, want in zip(collection.tables(), weights):
        torch.testing.assert_close(got, want.detach(), rtol=1e-4, atol=1e-5)
    assert collection.placeholder.grad is None or collection.placeholder.grad.numel() == 0


def test_state_dict_resumes_training_exactly():
    g = torch.Generator().manual_seed(3)
    a = reckon.nn.EmbeddingBagCollection(ROWS, 4, optimizer="adam", learning_rate=0.05, generator=g)
    indices, offsets = jagged(g)
    upstream = torch.randn(16, 3, 4, generator=g)
    (a(indices, offsets) * upstream).sum().backward()
    b = reckon.nn.EmbeddingBagCollection(ROWS, 4, optimizer="adam", learning_rate=0.05)
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    assert set(a.state_dict()) >= {"weight_0", "state1_0", "state2_2", "step"}
    for m in (a, b):
        (m(indices, offsets) * upstream).sum().backward()
    for x, y in zip(a.tables(), b.tables()):
        assert torch.equal(x, y)


def test_no_grad_forward_leaves_tables_alone_and_bad_input_is_refused():
    g = torch.Generator().manual_seed(4)
    c = reckon.nn.EmbeddingBagCollection(ROWS, 4, optimizer="sgd", learning_rate=1.0, generator=g)
    indices, offsets = jagged(g)
    before = [t.clone() for t in c.tables()]
    with torch.no_grad():
        c(indices, offsets)
    assert all(torch.equal(x, y) for x, y in zip(before, c.tables()))
    bad = list(indices)
    bad[1] = torch.full_like(indices[1], 7)  # table 1 has 7 rows
    with pytest.raises(IndexError, match="7"):
        c(bad, offsets)
    with pytest.raises(ValueError, match="3 tables"):
        c(indices[:2], offsets[:2])
    with pytest.raises(ValueError, match="optimizer"):
        reckon.nn.EmbeddingBagCollection(ROWS, 4, optimizer="lamb")


def test_per_sample_weights_weight_the_bags_their_gradients_and_the_fused_update():
    g = torch.Generator().manual_seed(7)
    weights = [torch.randn(rows, 8, generator=g, requires_grad=True) for rows in ROWS]
    indices, offsets = jagged(g)
    sample = [torch.rand(len(i), generator=g) for i in indices]
    sample[1] = None  # a table without weights beside weighted ones
    got = ops.embedding_bags(weights, indices, offsets, "sum", sample)
    want = torch.stack([F.embedding_bag(i, w, o, mode="sum", include_last_offset=True, per_sample_weights=s)
                        for w, i, o, s in zip(weights, indices, offsets, sample)], dim=1)
    upstream, want_grads = assert_same_values_and_gradients(got, want, weights, g)

    collection = reckon.nn.EmbeddingBagCollection(ROWS, 8, optimizer="sgd", learning_rate=0.1)
    start = [w.clone() for w in collection.tables()]
    (collection(indices, offsets, sample) * upstream).sum().backward()
    for before, after, grad in zip(start, collection.tables(), want_grads):
        torch.testing.assert_close(after, before - 0.1 * grad, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="per_sample_weights"):
        ops.embedding_bags(weights, indices, offsets, "sum", sample[:2])
