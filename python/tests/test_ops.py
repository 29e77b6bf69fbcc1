"""reckon's operators against PyTorch's own on the same tensors: values, gradients, errors, tracing."""
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import reckon  # noqa: E402
from reckon import ops  # noqa: E402


def fm_reference(src, values=None):
    v = src if values is None else src * values.unsqueeze(-1)
    return 0.5 * (v.sum(1) ** 2 - (v * v).sum(1)).sum(-1)


@pytest.mark.parametrize("with_values", [False, True])
def test_fm_interaction_matches_the_formula_and_its_gradient(with_values):
    g = torch.Generator().manual_seed(1)
    src = torch.randn(64, 7, 16, generator=g, requires_grad=True)
    values = torch.rand(64, 7, generator=g) if with_values else None
    got = ops.fm_interaction(src, values)
    want = fm_reference(src, values)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
    weights = torch.randn(64, generator=g)
    (grad,) = torch.autograd.grad((got * weights).sum(), src)
    (want_grad,) = torch.autograd.grad((want * weights).sum(), src)
    torch.testing.assert_close(grad, want_grad, rtol=1e-5, atol=1e-4)


def test_fm_interaction_gradient_by_finite_differences():
    # The kernel is float32 only: gradcheck with a float32 step and tolerances.
    g = torch.Generator().manual_seed(2)
    src = torch.randn(3, 4, 5, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: ops.fm_interaction(s), (src,), eps=1e-2, atol=1e-2, rtol=1e-2)


def test_fm_interaction_is_bitwise_repeatable():
    src = torch.randn(256, 39, 16)
    assert torch.equal(ops.fm_interaction(src), ops.fm_interaction(src))


def test_fm_interaction_errors_carry_reckons_message():
    with pytest.raises(ValueError, match="values"):
        ops.fm_interaction(torch.randn(4, 3, 2), torch.ones(4, 5))
    with pytest.raises(ValueError, match="float32"):
        ops.fm_interaction(torch.randn(4, 3, 2, dtype=torch.float64))


def bags(generator, rows, batch, most=5, dtype=torch.int64):
    lengths = torch.randint(0, most + 1, (batch,), generator=generator)
    offsets = torch.zeros(batch + 1, dtype=dtype)
    offsets[1:] = torch.cumsum(lengths, 0)
    indices = torch.randint(0, rows, (int(offsets[-1]),), generator=generator, dtype=dtype)
    return indices, offsets


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_embedding_bag_matches_torch_forward_and_backward(mode, dtype):
    g = torch.Generator().manual_seed(3)
    weight = torch.randn(50, 8, generator=g, requires_grad=True)
    indices, offsets = bags(g, 50, 32, dtype=dtype)
    got = ops.embedding_bag(weight, indices, offsets, mode)
    want = F.embedding_bag(indices.long(), weight, offsets.long(), mode=mode, include_last_offset=True)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    upstream = torch.randn(32, 8, generator=g)
    (grad,) = torch.autograd.grad((got * upstream).sum(), weight)
    (want_grad,) = torch.autograd.grad((want * upstream).sum(), weight)
    torch.testing.assert_close(grad, want_grad, rtol=1e-6, atol=1e-6)


def test_embedding_bag_per_sample_weights():
    g = torch.Generator().manual_seed(4)
    weight = torch.randn(20, 4, generator=g, requires_grad=True)
    indices, offsets = bags(g, 20, 10)
    psw = torch.rand(indices.numel(), generator=g)
    got = ops.embedding_bag(weight, indices, offsets, "sum", psw)
    want = F.embedding_bag(indices, weight, offsets, mode="sum", per_sample_weights=psw, include_last_offset=True)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    got.sum().backward()
    torch.testing.assert_close(weight.grad, torch.zeros(20, 4).index_add_(0, indices, psw.unsqueeze(1).expand(-1, 4)))


def test_embedding_bag_errors_name_the_bad_id_and_mode():
    weight = torch.randn(10, 4)
    with pytest.raises(IndexError, match="12"):
        ops.embedding_bag(weight, torch.tensor([1, 12]), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="mode"):
        ops.embedding_bag(weight, torch.tensor([1]), torch.tensor([0, 1]), "max")
    with pytest.raises(ValueError, match="offsets"):
        ops.embedding_bag(weight, torch.tensor([1]), torch.tensor([[0, 1]]))


def test_meta_tensors_give_shapes_without_running_the_kernels():
    src = torch.empty(8, 5, 4, device="meta")
    assert torch.ops.reckon.fm_interaction(src).shape == (8,)
    weight = torch.empty(100, 16, device="meta")
    out = torch.ops.reckon.embedding_bag(weight, torch.empty(30, dtype=torch.int64, device="meta"),
                                         torch.empty(9, dtype=torch.int64, device="meta"))
    assert out.shape == (8, 16) and out.device.type == "meta"


def test_modules_train_with_torch_optimizers():
    g = torch.Generator().manual_seed(5)
    torch.manual_seed(5)
    table = reckon.nn.EmbeddingBag(30, 6, mode="mean", init_std=0.1)
    fm = reckon.nn.FMInteraction()
    indices, offsets = bags(g, 30, 64, most=3)
    target = torch.randn(64, generator=g)
    optimizer = torch.optim.Adam(table.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        pooled = table(indices, offsets).view(64, 2, 3)
        loss = ((fm(pooled) - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_fx_traces_a_module_that_uses_the_operators():
    traced = torch.fx.symbolic_trace(reckon.nn.FMInteraction())
    src = torch.randn(4, 3, 2)
    torch.testing.assert_close(traced(src), fm_reference(src), rtol=1e-5, atol=1e-5)


def test_check_errors_on_the_cpu_has_nothing_to_raise():
    ops.check_errors("cpu")  # CPU operators raise at once (above); nothing is left recorded
