"""Every differentiable operator forward and backward on meta tensors (shapes only, as fake tensors and tracing
compilers run them), and torch.compile where the installed torch has it."""
import pytest

torch = pytest.importorskip("torch")

import reckon  # noqa: E402
from reckon import ops  # noqa: E402


def meta(*shape, dtype=torch.float32, grad=True):
    return torch.empty(*shape, device="meta", dtype=dtype, requires_grad=grad and dtype.is_floating_point)


CASES = {
    "fm_interaction": lambda: (ops.fm_interaction, (meta(8, 5, 4),)),
    "fm_interaction_fused": lambda: (lambda i, a, b: ops.fm_interaction_fused([a, b], i),
                                     (meta(8, 2, dtype=torch.int64), meta(10, 4), meta(20, 4))),
    "embedding_bag": lambda: (lambda w, i, o: ops.embedding_bag(w, i, o),
                              (meta(10, 4), meta(30, dtype=torch.int64), meta(9, dtype=torch.int64))),
    "embedding_bags": lambda: (lambda a, b, i, o: ops.embedding_bags([a, b], [i, i], [o, o]),
                               (meta(10, 4), meta(12, 4), meta(30, dtype=torch.int64), meta(9, dtype=torch.int64))),
    "conv3d": lambda: (lambda x, w, b: ops.conv3d(x, w, b, stride=(1, 2, 2), padding=1),
                       (meta(2, 3, 4, 9, 9), meta(5, 3, 3, 3, 3), meta(5))),
    "pool3d": lambda: (lambda x: ops.pool3d(x, "max", 2), (meta(2, 3, 4, 6, 6),)),
    "global_pool3d": lambda: (lambda x: ops.global_pool3d(x), (meta(2, 3, 4, 6, 6),)),
    "gru_layer": lambda: (ops.gru_layer, (meta(5, 4, 6), meta(4, 8), meta(6, 24), meta(8, 24), meta(24), meta(24))),
    "gru_cell": lambda: (ops.gru_cell, (meta(4, 24), meta(4, 24), meta(4, 8))),
    "softmax_cross_entropy": lambda: (lambda z, t: ops.softmax_cross_entropy(z, t),
                                      (meta(4, 100), meta(4, dtype=torch.int64))),
    "bpr_max_loss": lambda: (lambda z, b, t, c: ops.bpr_max_loss(z, t, c, b),
                             (meta(4, 10), meta(10), meta(4, dtype=torch.int64), meta(10, dtype=torch.int64))),
    "linear": lambda: (lambda x, w, b: ops.linear(x, w, b, True), (meta(6, 5), meta(5, 3), meta(3))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_on_meta_tensors(name):
    fn, args = CASES[name]()
    y = fn(*args)
    assert y.device.type == "meta"
    differentiable = [a for a in args if a.requires_grad]
    grads = torch.autograd.grad(y.sum(), differentiable)
    for a, g in zip(differentiable, grads):
        assert g.shape == a.shape and g.device.type == "meta"


@pytest.mark.skipif(not hasattr(torch, "compile"), reason="torch %s has no torch.compile (2.0 and later)"
                    % torch.__version__)
def test_torch_compile_runs_a_model_on_the_operators():
    model = torch.nn.Sequential(reckon.nn.Linear(12, 8, relu=True), reckon.nn.Linear(8, 1))
    x = torch.randn(16, 12)
    compiled = torch.compile(model, backend="aot_eager")
    torch.testing.assert_close(compiled(x), model(x))
    compiled(x).sum().backward()
    assert model[0].weight.grad is not None
