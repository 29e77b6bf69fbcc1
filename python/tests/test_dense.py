"""The dense layer against torch.nn.Linear (+ ReLU), and the MLP it builds."""
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import reckon  # noqa: E402
from reckon import nn, ops  # noqa: E402


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_linear_matches_torch_in_values_and_gradients(relu, with_bias):
    g = torch.Generator().manual_seed(51)
    x = torch.randn(37, 20, generator=g, requires_grad=True)
    w = torch.randn(20, 11, generator=g, requires_grad=True)
    b = torch.randn(11, generator=g, requires_grad=True) if with_bias else None
    got = ops.linear(x, w, b, relu)
    want = F.linear(x, w.T, b)
    want = F.relu(want) if relu else want
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    upstream = torch.randn(want.shape, generator=g)
    inputs = (x, w) + ((b,) if with_bias else ())
    grads = torch.autograd.grad((got * upstream).sum(), inputs)
    want_grads = torch.autograd.grad((want * upstream).sum(), inputs)
    for a, c in zip(grads, want_grads):
        torch.testing.assert_close(a, c, rtol=1e-4, atol=1e-4)


def test_linear_gradient_by_finite_differences():
    g = torch.Generator().manual_seed(52)
    x, w = torch.randn(4, 5, generator=g, requires_grad=True), torch.randn(5, 3, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, c: ops.linear(a, c), (x, w), eps=1e-2, atol=1e-2, rtol=1e-2)


def test_linear_refuses_mismatched_shapes_and_traces():
    with pytest.raises(ValueError):
        ops.linear(torch.randn(4, 5), torch.randn(6, 3))
    y = torch.ops.reckon.linear(torch.empty(8, 5, device="meta"), torch.empty(5, 3, device="meta"), None, True)
    assert y.shape == (8, 3)
    model = nn.mlp(5, [4])
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(3, 5)
    assert "linear" in traced.code and torch.equal(traced(x), model(x))


def test_mlp_trains_as_torchs_does():
    torch.manual_seed(53)
    ours = nn.mlp(12, [16, 8])
    theirs = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8), torch.nn.ReLU(),
                                 torch.nn.Linear(8, 1))
    with torch.no_grad():
        for layer, ref in zip(ours, [theirs[0], theirs[2], theirs[4]]):
            ref.weight.copy_(layer.weight.T)
            ref.bias.copy_(layer.bias)
    x, target = torch.randn(64, 12), torch.randn(64, 1)
    for module in (ours, theirs):
        opt = torch.optim.Adam(module.parameters(), lr=0.01)
        for _ in range(5):
            opt.zero_grad()
            F.mse_loss(module(x), target).backward()
            opt.step()
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-4)
