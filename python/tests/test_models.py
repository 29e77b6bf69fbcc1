"""A DeepFM in plain PyTorch on reckon's modules learns a planted pairwise interaction."""
import pytest

torch = pytest.importorskip("torch")

import reckon  # noqa: E402


def planted(generator, n):
    # Two fields of 20 values each; a click is likely when the values agree in parity (a pairwise term) and the
    # third field (5 values) carries a small first-order effect.
    ids = torch.stack([torch.randint(0, 20, (n,), generator=generator), torch.randint(0, 20, (n,), generator=generator),
                       torch.randint(0, 5, (n,), generator=generator)], dim=1)
    logit = 2.0 * ((ids[:, 0] % 2) == (ids[:, 1] % 2)).float() - 1.0 + 0.3 * (ids[:, 2].float() - 2)
    labels = (torch.rand(n, generator=generator) < torch.sigmoid(logit)).float()
    return ids, labels


def auc(labels, scores):
    order = torch.argsort(scores)
    ranks = torch.empty_like(order, dtype=torch.float64)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    pos = labels.sum()
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * (len(labels) - pos)))


def test_deepfm_on_reckon_modules_learns_the_interaction():
    g = torch.Generator().manual_seed(7)
    torch.manual_seed(7)
    ids, labels = planted(g, 8192)
    test_ids, test_labels = planted(g, 4096)
    model = reckon.models.DeepFM([20, 20, 5], dim=8, hidden=(32,), learning_rate=0.01, init_std=0.05, generator=g)
    optimizer = torch.optim.Adam(model.dense_parameters(), lr=0.01)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(4):
        for b in range(0, len(labels), 256):
            optimizer.zero_grad()
            loss_fn(model(ids[b:b + 256]), labels[b:b + 256]).backward()
            optimizer.step()
    with torch.no_grad():
        got = auc(test_labels, model(test_ids))
    bayes = auc(test_labels, 2.0 * ((test_ids[:, 0] % 2) == (test_ids[:, 1] % 2)).float() + 0.3 * test_ids[:, 2].float())
    assert got > bayes - 0.03, (got, bayes)
    assert int(model.embeddings.step) == 4 * 32
