"""Convolution and pooling operators against torch's F.conv3d, F.max_pool3d and F.avg_pool3d."""
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import reckon  # noqa: E402
from reckon import nn, ops  # noqa: E402

SETTINGS = [  # stride, padding, dilation, groups
    (1, 0, 1, 1),
    ((1, 2, 2), (0, 1, 1), 1, 1),
    (1, 1, (1, 2, 1), 2),
]


@pytest.mark.parametrize("stride,padding,dilation,groups", SETTINGS)
@pytest.mark.parametrize("layout", ["ncdhw", "ndhwc"])
def test_conv3d_matches_torch_forward_and_gradients(stride, padding, dilation, groups, layout):
    g = torch.Generator().manual_seed(21)
    x = torch.randn(2, 4, 5, 7, 6, generator=g, requires_grad=True)
    w = torch.randn(6, 4 // groups, 2, 3, 3, generator=g, requires_grad=True)
    b = torch.randn(6, generator=g, requires_grad=True)
    want = F.conv3d(x, w, b, stride, padding, dilation, groups)
    if layout == "ncdhw":
        got = ops.conv3d(x, w, b, stride, padding, dilation, groups)
    else:
        got = ops.conv3d(x.permute(0, 2, 3, 4, 1), w.permute(0, 2, 3, 4, 1), b, stride, padding, dilation, groups,
                         layout).permute(0, 4, 1, 2, 3)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    upstream = torch.randn(want.shape, generator=g)
    grads = torch.autograd.grad((got * upstream).sum(), (x, w, b))
    want_grads = torch.autograd.grad((want * upstream).sum(), (x, w, b))
    for a, c in zip(grads, want_grads):
        torch.testing.assert_close(a, c, rtol=1e-4, atol=1e-3)


def test_conv3d_gradient_by_finite_differences():
    g = torch.Generator().manual_seed(22)
    x = torch.randn(1, 2, 3, 4, 4, generator=g, requires_grad=True)
    w = torch.randn(3, 2, 2, 2, 2, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ops.conv3d(a, b, padding=1), (x, w), eps=1e-2, atol=2e-2, rtol=2e-2)


def test_conv3d_errors_and_meta_shapes():
    with pytest.raises(ValueError, match="channel|groups|C"):
        ops.conv3d(torch.randn(1, 3, 4, 4, 4), torch.randn(2, 2, 1, 1, 1))
    with pytest.raises(ValueError, match="layout"):
        ops.conv3d(torch.randn(1, 2, 4, 4, 4), torch.randn(2, 2, 1, 1, 1), layout="nchw")
    y = torch.ops.reckon.conv3d(torch.empty(2, 3, 8, 9, 10, device="meta"), torch.empty(5, 3, 3, 3, 3, device="meta"),
                                None, [1, 2, 2], [1, 1, 1], [1, 1, 1], 1, "ncdhw")
    assert y.shape == (2, 5, 8, 5, 5) and y.device.type == "meta"


def test_conv3d_module_trains_like_torchs():
    torch.manual_seed(3)
    ours = nn.Conv3d(2, 4, 3, padding=1)
    theirs = torch.nn.Conv3d(2, 4, 3, padding=1)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(3, 2, 4, 5, 5)
    for module in (ours, theirs):
        opt = torch.optim.SGD(module.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            (module(x) ** 2).mean().backward()
            opt.step()
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("layout", ["ncdhw", "ndhwc"])
def test_pool3d_matches_torch(mode, layout):
    g = torch.Generator().manual_seed(23)
    x = torch.randn(2, 3, 6, 7, 8, generator=g, requires_grad=True)
    kernel, stride, padding = (2, 3, 3), (2, 2, 2), (1, 1, 0)
    if mode == "max":
        want = F.max_pool3d(x, kernel, stride, padding)
    else:
        want = F.avg_pool3d(x, kernel, stride, padding, count_include_pad=True)
    if layout == "ncdhw":
        got = ops.pool3d(x, mode, kernel, stride, padding)
    else:
        got = ops.pool3d(x.permute(0, 2, 3, 4, 1), mode, kernel, stride, padding, layout=layout).permute(0, 4, 1, 2, 3)
    torch.testing.assert_close(got, want)
    upstream = torch.randn(want.shape, generator=g)
    (grad,) = torch.autograd.grad((got * upstream).sum(), x)
    (want_grad,) = torch.autograd.grad((want * upstream).sum(), x)
    torch.testing.assert_close(grad, want_grad)


def test_global_pool3d_masks_the_depth_past_each_length():
    g = torch.Generator().manual_seed(24)
    x = torch.randn(3, 4, 5, 2, 3, generator=g, requires_grad=True)
    lengths = torch.tensor([5, 2, 0], dtype=torch.int32)
    for mode in ("max", "avg"):
        got = ops.global_pool3d(x, lengths, mode)
        want = []
        for n, length in enumerate(lengths.tolist()):
            part = x[n, :, :length].reshape(4, -1)
            if length == 0:
                want.append(torch.zeros(4))
            else:
                want.append(part.max(1).values if mode == "max" else part.mean(1))
        want = torch.stack(want)
        torch.testing.assert_close(got, want)
        (grad,) = torch.autograd.grad(got.sum(), x)
        (want_grad,) = torch.autograd.grad(want.sum(), x)
        torch.testing.assert_close(grad, want_grad)
        assert grad[1, :, 2:].abs().sum() == 0 and grad[2].abs().sum() == 0
