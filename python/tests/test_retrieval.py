"""The fused FM, top-k and skip-gram operators against PyTorch's own on the same tensors."""
import pytest

torch = pytest.importorskip("torch")

import reckon  # noqa: E402
from reckon import nn, ops  # noqa: E402


def fm_reference(rows, values=None):
    v = rows if values is None else rows * values.unsqueeze(-1)
    return 0.5 * (v.sum(1) ** 2 - (v * v).sum(1)).sum(-1)


@pytest.mark.parametrize("with_values", [False, True])
def test_fused_fm_equals_the_gathered_form_with_table_gradients(with_values):
    g = torch.Generator().manual_seed(11)
    tables = [torch.randn(n, 8, generator=g, requires_grad=True) for n in (5, 40, 300)]
    indices = torch.stack([torch.randint(0, t.shape[0], (64,), generator=g) for t in tables], 1)
    values = torch.rand(64, 3, generator=g) if with_values else None
    got = ops.fm_interaction_fused(tables, indices, values)
    rows = torch.stack([t[indices[:, f]] for f, t in enumerate(tables)], 1)
    want = fm_reference(rows, values)
    assert torch.equal(got, ops.fm_interaction(rows.detach(), values))  # the same kernel order, bit for bit
    weights = torch.randn(64, generator=g)
    grads = torch.autograd.grad((got * weights).sum(), tables)
    want_grads = torch.autograd.grad((want * weights).sum(), tables)
    for a, b in zip(grads, want_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)


def test_fused_fm_names_the_bad_id():
    tables = [torch.randn(4, 2), torch.randn(6, 2)]
    with pytest.raises(IndexError, match="7"):
        ops.fm_interaction_fused(tables, torch.tensor([[0, 1], [3, 7]]))


def test_topk_matches_torch_topk_and_marks_short_rows():
    g = torch.Generator().manual_seed(12)
    scores = torch.randn(33, 500, generator=g)
    best, columns = ops.topk(scores, 10)
    want = torch.topk(scores, 10)
    assert torch.equal(best, want.values) and torch.equal(columns.long(), want.indices)
    short = torch.full((2, 4), float("-inf"))
    short[0, 2], short[1, 1] = 1.0, float("nan")
    best, columns = ops.topk(short, 3)
    assert columns.tolist() == [[2, -1, -1], [-1, -1, -1]]
    with pytest.raises(ValueError, match="k"):
        ops.topk(scores, 0)


def test_topk_product_matches_torch_and_leaves_out_the_excluded_pairs():
    g = torch.Generator().manual_seed(13)
    queries, items = torch.randn(40, 16, generator=g), torch.randn(700, 16, generator=g)
    scores = queries @ items.T
    rows = torch.arange(40).repeat_interleave(2)
    columns = torch.topk(scores, 2).indices.reshape(-1)
    best, got = ops.topk_product(queries, items, 5, (rows, columns))
    scores[rows, columns] = float("-inf")
    want = torch.topk(scores, 5)
    torch.testing.assert_close(best, want.values, rtol=1e-5, atol=1e-5)
    assert torch.equal(got.long(), want.indices)
    with pytest.raises(ValueError, match="share D"):
        ops.topk_product(queries, torch.randn(5, 3), 2)


def test_topk_traces_with_meta_tensors():
    best, columns = torch.ops.reckon.topk_product(torch.empty(7, 4, device="meta"), torch.empty(9, 4, device="meta"), 3)
    assert best.shape == (7, 3) and columns.dtype == torch.int32


def planted_sentences(groups=4, per_group=25, sentences=3000, length=10, seed=14):
    """Sentences that each stay inside one group of ids: an id's nearest neighbours are its group's."""
    g = torch.Generator().manual_seed(seed)
    group = torch.randint(0, groups, (sentences, 1), generator=g)
    tokens = (group * per_group + torch.randint(0, per_group, (sentences, length), generator=g)).to(torch.int32)
    offsets = torch.arange(0, sentences * length + 1, length, dtype=torch.int64)
    return tokens.reshape(-1), offsets, groups * per_group, per_group


def test_sgns_step_counts_pairs_and_is_repeatable_in_sequence():
    tokens, offsets, vocab, _ = planted_sentences(sentences=50)
    counts = torch.bincount(tokens.long(), minlength=vocab)
    sampler = ops.alias_table(counts)
    tables = []
    for _ in range(2):
        inputs = torch.rand(vocab, 16, generator=torch.Generator().manual_seed(5)) - 0.5
        outputs = torch.zeros(vocab, 16)
        stats = ops.sgns_step(inputs, outputs, tokens, offsets, sampler, window=1, seed=3, sequential=True,
                              compute_loss=True)
        tables.append((inputs, outputs))
    assert stats[0].item() == 50 * 2 * 9  # window 1: each of 9 neighbour links, both ways
    assert stats[1].item() == stats[0].item() and stats[2].item() > 0
    assert torch.equal(tables[0][0], tables[1][0]) and torch.equal(tables[0][1], tables[1][1])
    assert tables[0][1].abs().sum() > 0


def test_skipgram_learns_planted_groups():
    torch.manual_seed(0)
    tokens, offsets, vocab, per_group = planted_sentences()
    model = nn.SkipGram(torch.bincount(tokens.long(), minlength=vocab), dim=16, window=3, sample=0.0)
    for epoch in range(3):
        model.step(tokens, offsets, learning_rate=0.025 * (1 - epoch / 3))
    _, neighbours = model.most_similar(torch.arange(vocab), k=10)
    same = (neighbours.long() // per_group == (torch.arange(vocab) // per_group).unsqueeze(1)).float().mean()
    assert same > 0.95
    assert not (neighbours.long() == torch.arange(vocab).unsqueeze(1)).any()  # an id is not its own neighbour


def test_sgns_step_refuses_bad_tokens_and_trains_nothing():
    tokens, offsets, vocab, _ = planted_sentences(sentences=5)
    sampler = ops.alias_table(torch.bincount(tokens.long(), minlength=vocab))
    inputs, outputs = torch.rand(vocab, 8), torch.zeros(vocab, 8)
    before = inputs.clone()
    bad = tokens.clone()
    bad[17] = vocab + 3
    with pytest.raises(IndexError, match=str(vocab + 3)):
        ops.sgns_step(inputs, outputs, bad, offsets, sampler)
    assert torch.equal(inputs, before) and outputs.abs().sum() == 0
    with pytest.raises(ValueError, match="window"):
        ops.sgns_step(inputs, outputs, tokens, offsets, sampler, window=0)
