"""Every operator on torch's CUDA tensors against itself on the CPU: the same values (bit for bit where the kernel's
contract says so), enqueued on torch's current stream. Skipped where torch has no CUDA device."""
import pytest

torch = pytest.importorskip("torch")

import reckon  # noqa: E402
from reckon import nn, ops  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="torch has no CUDA device here (Debian's torch is CPU-only)")


def both(fn, *tensors):
    """fn on the CPU tensors and on their CUDA copies; the CUDA result brought back."""
    on_cpu = fn(*tensors)
    on_gpu = fn(*[t.cuda() if isinstance(t, torch.Tensor) else t for t in tensors])
    bring = (lambda r: r.cpu()) if isinstance(on_gpu, torch.Tensor) else (lambda r: type(r)(x.cpu() for x in r))
    return on_cpu, bring(on_gpu)


def test_fm_and_embedding_bags_are_bitwise_the_cpus():
    g = torch.Generator().manual_seed(41)
    src = torch.randn(512, 13, 16, generator=g)
    a, b = both(ops.fm_interaction, src)
    assert torch.equal(a, b)
    tables = [torch.randn(1000, 16, generator=g) for _ in range(3)]
    ids = torch.randint(0, 1000, (512, 3), generator=g)
    a, b = both(lambda i, *t: ops.fm_interaction_fused(list(t), i), ids, *tables)
    assert torch.equal(a, b)
    indices = [torch.randint(0, 1000, (2048,), generator=g) for _ in range(3)]
    offsets = [torch.arange(0, 2049, 4)] * 3
    a, b = both(lambda *x: ops.embedding_bags(list(x[:3]), list(x[3:6]), list(x[6:])), *tables, *indices, *offsets)
    assert torch.equal(a, b)


def test_fused_adam_collection_trains_the_same_on_the_gpu():
    g = torch.Generator().manual_seed(42)
    indices = [torch.randint(0, 500, (1024,), generator=g) for _ in range(2)]
    offsets = [torch.arange(0, 1025, 4)] * 2
    upstream = torch.randn(256, 2, 8, generator=g)
    tables = []
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        collection = nn.EmbeddingBagCollection([500, 500], 8, optimizer="adam", learning_rate=0.01).to(device)
        for _ in range(3):
            out = collection([i.to(device) for i in indices], [o.to(device) for o in offsets])
            (out * upstream.to(device)).sum().backward()
        tables.append(collection.state_dict()["weight_0"].cpu())
    assert torch.equal(tables[0], tables[1])


def test_conv_pool_gru_softmax_topk_agree_with_the_cpu():
    g = torch.Generator().manual_seed(43)
    x, w = torch.randn(2, 4, 5, 6, 7, generator=g), torch.randn(8, 4, 3, 3, 3, generator=g)
    a, b = both(lambda p, q: ops.conv3d(p, q, padding=1), x, w)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    a, b = both(lambda p: ops.pool3d(p, "max", 2), x)
    assert torch.equal(a, b)
    gx, gh, h = torch.randn(4, 24, generator=g), torch.randn(4, 24, generator=g), torch.randn(4, 8, generator=g)
    a, b = both(ops.gru_cell, gx, gh, h)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    layer = [torch.randn(*shape, generator=g) for shape in ((6, 4, 5), (4, 8), (5, 24), (8, 24), (24,), (24,))]
    a, b = both(ops.gru_layer, *layer)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    linear = [torch.randn(32, 20, generator=g), torch.randn(20, 10, generator=g), torch.randn(10, generator=g)]
    a, b = both(lambda *t: ops.linear(*t, relu=True), *linear)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    logits, targets = torch.randn(8, 5000, generator=g), torch.randint(0, 5000, (8,), generator=g)
    a, b = both(ops.softmax_cross_entropy, logits, targets)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    scores = torch.randn(16, 3000, generator=g)
    a, b = both(lambda s: ops.topk(s, 20), scores)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_work_runs_on_torchs_current_stream():
    side = torch.cuda.Stream()
    src = torch.randn(4096, 39, 16, device="cuda")
    with torch.cuda.stream(side):
        y = ops.fm_interaction(src)
        total = y.sum()  # torch's work after reckon's on the same stream, with no synchronisation between
    side.synchronize()
    torch.testing.assert_close(total.cpu(), ops.fm_interaction(src.cpu()).sum(), rtol=1e-4, atol=1e-2)


def test_a_bad_id_on_the_gpu_is_raised_by_check_errors_and_trains_nothing():
    collection = nn.EmbeddingBagCollection([10], 4, optimizer="sgd", learning_rate=0.1).cuda()
    before = collection.tables()[0].clone()
    out = collection([torch.tensor([1, 12], device="cuda")], [torch.tensor([0, 2], device="cuda")])
    out.sum().backward()
    with pytest.raises(IndexError, match="12"):
        ops.check_errors()
    assert torch.equal(collection.tables()[0], before)
    ops.check_errors()  # the record is clear again


def test_skipgram_trains_on_the_gpu_like_the_cpu_in_sequence():
    g = torch.Generator().manual_seed(44)
    tokens = torch.randint(0, 50, (400,), generator=g, dtype=torch.int32)
    offsets = torch.arange(0, 401, 10, dtype=torch.int64)
    counts = torch.bincount(tokens.long(), minlength=50)
    tables = []
    for device in ("cpu", "cuda"):
        model = nn.SkipGram(counts, dim=16, window=2, sample=0.0).to(device)
        model.step(tokens, offsets, sequential=True)
        tables.append(model.input_vectors.cpu())
    torch.testing.assert_close(tables[0], tables[1], rtol=1e-4, atol=1e-5)
