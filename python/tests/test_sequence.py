"""The GRU and softmax cross-entropy operators against torch.nn.GRU and F.cross_entropy."""
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import reckon  # noqa: E402
from reckon import nn, ops  # noqa: E402


def torch_gru_like(ours):
    theirs = torch.nn.GRU(ours.w_x.shape[0], ours.w_h.shape[0])
    with torch.no_grad():
        theirs.weight_ih_l0.copy_(ours.w_x.T)
        theirs.weight_hh_l0.copy_(ours.w_h.T)
        theirs.bias_ih_l0.copy_(ours.b_x)
        theirs.bias_hh_l0.copy_(ours.b_h)
    return theirs


def test_gru_matches_torch_in_values_and_gradients():
    torch.manual_seed(31)
    ours = nn.GRU(6, 8)
    theirs = torch_gru_like(ours)
    x = torch.randn(5, 3, 6, requires_grad=True)
    h0 = torch.randn(3, 8, requires_grad=True)
    y, h = ours(x, h0)
    want_y, want_h = theirs(x, h0.unsqueeze(0))
    torch.testing.assert_close(y, want_y, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h, want_h[0], rtol=1e-5, atol=1e-5)
    upstream = torch.randn(y.shape)
    grads = torch.autograd.grad((y * upstream).sum(), (x, h0, ours.w_x, ours.w_h, ours.b_x, ours.b_h))
    want = torch.autograd.grad((want_y * upstream).sum(), (x, h0, theirs.weight_ih_l0, theirs.weight_hh_l0,
                                                           theirs.bias_ih_l0, theirs.bias_hh_l0))
    for a, b in zip(grads, (want[0], want[1], want[2].T, want[3].T, want[4], want[5])):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_gru_layer_inference_equals_the_unrolled_cells():
    torch.manual_seed(32)
    ours = nn.GRU(4, 5)
    x = torch.randn(7, 2, 4)
    trained_path, _ = ours(x)
    with torch.no_grad():
        layer, last = ours(x)
    torch.testing.assert_close(layer, trained_path.detach(), rtol=1e-5, atol=1e-6)
    assert torch.equal(last, layer[-1])


def test_gru_cell_gradient_by_finite_differences():
    g = torch.Generator().manual_seed(33)
    args = (torch.randn(2, 9, generator=g, requires_grad=True), torch.randn(2, 9, generator=g, requires_grad=True),
            torch.randn(2, 3, generator=g, requires_grad=True))
    assert torch.autograd.gradcheck(ops.gru_cell, args, eps=1e-2, atol=1e-2, rtol=1e-2)


def test_gru_layer_gradient_by_finite_differences():
    g = torch.Generator().manual_seed(37)
    args = [torch.randn(*shape, generator=g, requires_grad=True) * scale
            for shape, scale in (((3, 2, 4), 1.0), ((2, 3), 1.0), ((4, 9), 0.5), ((3, 9), 0.5), ((9,), 0.1), ((9,), 0.1))]
    args = [a.detach().requires_grad_() for a in args]
    assert torch.autograd.gradcheck(ops.gru_layer, args, eps=1e-2, atol=2e-2, rtol=2e-2)
    with pytest.raises(ValueError, match="T >= 1"):
        ops.gru_layer(torch.randn(0, 2, 4), *args[1:])


def test_gru_cell_refuses_mismatched_shapes():
    with pytest.raises(ValueError):
        ops.gru_cell(torch.randn(2, 9), torch.randn(2, 6), torch.randn(2, 3))


def test_softmax_cross_entropy_matches_torch_and_skips_rows_without_target():
    g = torch.Generator().manual_seed(34)
    logits = (torch.randn(16, 1000, generator=g) * 5).requires_grad_()
    targets = torch.randint(0, 1000, (16,), generator=g)
    targets[3] = -1
    got = ops.softmax_cross_entropy(logits, targets)
    want = F.cross_entropy(logits, targets, reduction="none", ignore_index=-1)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert got[3] == 0
    weights = torch.rand(16, generator=g)
    (grad,) = torch.autograd.grad((got * weights).sum(), logits)
    (want_grad,) = torch.autograd.grad((want * weights).sum(), logits)
    torch.testing.assert_close(grad, want_grad, rtol=1e-5, atol=1e-6)
    with pytest.raises((ValueError, IndexError), match="1000"):
        ops.softmax_cross_entropy(logits.detach(), torch.full((16,), 1000))


def test_session_model_learns_a_planted_successor():
    """A GRU4Rec-shaped model on reckon's GRU and loss: item i is always followed by item (i + 1) mod N."""
    torch.manual_seed(35)
    items, dim = 50, 16
    embedding, gru, out = torch.nn.Embedding(items, dim), nn.GRU(dim, 32), torch.nn.Linear(32, items)
    params = list(embedding.parameters()) + list(gru.parameters()) + list(out.parameters())
    opt = torch.optim.Adam(params, lr=0.01)
    for _ in range(150):
        start = torch.randint(0, items, (32,))
        sessions = (start.unsqueeze(0) + torch.arange(6).unsqueeze(1)) % items  # [T, B]
        y, _ = gru(embedding(sessions[:-1]))
        loss = ops.softmax_cross_entropy(out(y.reshape(-1, 32)), sessions[1:].reshape(-1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        probe = torch.arange(items).unsqueeze(0)
        y, _ = gru(embedding(probe))
        predicted = out(y[0]).argmax(1)
    assert (predicted == (probe[0] + 1) % items).float().mean() > 0.9


def bpr_max_reference(scores, bias, targets, items, regularization):
    """The formula of kernels/softmax/softmax.h in torch ops, row by row."""
    r = scores + (0 if bias is None else bias)
    losses = []
    for b in range(r.shape[0]):
        t = int(targets[b])
        negative = items != items[t]
        if t < 0 or not negative.any():
            losses.append(r.new_zeros(()))
            continue
        rn = r[b, negative]
        s = torch.softmax(rn, 0)
        p = (s * torch.sigmoid(r[b, t] - rn)).sum()
        losses.append(-torch.log(p + 1e-24) + regularization * (s * rn * rn).sum())
    return torch.stack(losses)


def test_bpr_max_matches_its_formula_and_gradients():
    g = torch.Generator().manual_seed(36)
    scores = torch.randn(6, 12, generator=g, requires_grad=True)
    bias = torch.randn(12, generator=g, requires_grad=True)
    items = torch.randint(0, 9, (12,), generator=g)
    targets = torch.tensor([0, 3, 5, -1, 11, 7])
    got = ops.bpr_max_loss(scores, targets, items, bias, regularization=0.5)
    want = bpr_max_reference(scores, bias, targets, items, 0.5)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert got[3] == 0
    weights = torch.rand(6, generator=g)
    grads = torch.autograd.grad((got * weights).sum(), (scores, bias))
    want_grads = torch.autograd.grad((want * weights).sum(), (scores, bias))
    for a, b in zip(grads, want_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
