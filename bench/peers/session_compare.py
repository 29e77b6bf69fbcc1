#!/usr/bin/env python3
"""reckon's session models beside reference implementations, on the same splits and the same protocol, one run.

The references are written here from the papers, independently of reckon's code: POP, item-kNN (cosine of
co-occurrence over the binary session x item matrix, self-similarity 0), SKNN and V-SKNN (Ludewig & Jannach 2018:
the 500 most recent training sessions sharing an item, the 100 most similar by cosine, V-SKNN's current session
weighted by linear decay p / n) in numpy, and a plain PyTorch GRU4Rec (one-hot input as the item's row of W_x, one
GRU layer, dropout, a full-catalogue softmax, Adam, session-parallel mini-batches with the state reset per session).
Every model is scored by one evaluator in this file: every position of every test session, every training item
ranked, ties broken by training popularity then item id and never in the target's favour (reckon's rule).

  python3 bench/peers/session_compare.py --reckon build/bin/reckon [--data ../shared/data] [--threads N] [--json]
"""
import argparse
import math
import os
import subprocess
import json
import tempfile
import time

import numpy as np

from peer_report import add_output_options, emit, read_session_clicks


def read_sessions(path):
    """(session id, [items in time order], last click time) in order of their first click."""
    return [(sid, [item for _, _, item in clicks], clicks[-1][0]) for sid, clicks in read_session_clicks(path).items()]


class Catalog:
    """Training items, most clicked first, ties by name: index order is the tie-break."""

    def __init__(self, train):
        counts = {}
        for _, items, _ in train:
            for item in items:
                counts[item] = counts.get(item, 0) + 1
        self.names = sorted(counts, key=lambda x: (-counts[x], x))
        self.index = {name: i for i, name in enumerate(self.names)}
        self.counts = np.array([counts[n] for n in self.names], dtype=np.float64)


def rank(scores, target):
    """1-based rank with ties before the target when they come earlier in catalogue order."""
    mine = scores[target]
    return int(np.sum(scores > mine) + np.sum(scores[:target] == mine) + 1)


def evaluate(score, test, catalog, k=20):
    hits = rr = queries = 0
    start = time.perf_counter()
    for _, items, _ in test:
        ids = [catalog.index.get(item, -1) for item in items]
        for t in range(1, len(ids)):
            queries += 1
            if ids[t] < 0:
                continue
            r = rank(score(ids[:t]), ids[t])
            if r <= k:
                hits += 1
                rr += 1.0 / r
    return {"hr@20": hits / queries, "mrr@20": rr / queries, "queries": queries,
            "seconds": time.perf_counter() - start}


def pop_model(catalog):
    scores = catalog.counts.copy()
    return lambda prefix: scores


def iknn_model(train, catalog):
    n = len(catalog.names)
    rows, cols = [], []
    for s, (_, items, _) in enumerate(train):
        for i in {catalog.index[x] for x in items}:
            rows.append(s)
            cols.append(i)
    m = np.zeros((len(train), n), dtype=np.float32)
    m[rows, cols] = 1.0
    co = m.T @ m
    support = np.diag(co).copy()
    np.fill_diagonal(co, 0.0)
    sim = co / np.sqrt(np.outer(support, support))
    return lambda prefix: sim[prefix[-1]] if prefix[-1] >= 0 else np.zeros(n)


def sknn_model(train, catalog, decay, neighbors=100, sample=500):
    n = len(catalog.names)
    order = sorted(range(len(train)), key=lambda s: train[s][2])  # by last click, the most recent last
    sets = [frozenset(catalog.index[x] for x in train[s][1]) for s in order]
    sessions_of = {}
    for s in range(len(sets) - 1, -1, -1):
        for i in sets[s]:
            sessions_of.setdefault(i, []).append(s)

    def score(prefix):
        weights = {}
        for p, i in enumerate(prefix):
            if i >= 0:
                weights[i] = (p + 1) / len(prefix) if decay else 1.0
        out = np.zeros(n)
        if not weights:
            return out
        norm = math.sqrt(sum(w * w for w in weights.values()))
        candidates = set()
        for i in weights:
            candidates.update(sessions_of.get(i, [])[:sample])
        candidates = sorted(candidates, reverse=True)[:sample]
        sims = [(sum(w for i, w in weights.items() if i in sets[s]) / (norm * math.sqrt(len(sets[s]))), s)
                for s in candidates]
        sims.sort(key=lambda x: (-x[0], -x[1]))
        for sim, s in sims[:neighbors]:
            out[list(sets[s])] += sim
        return out
    return score


def gru4rec_model(train, catalog, args, epochs=10, sparse_input=False):
    """A trained PyTorch GRU4Rec's scorer and its training clicks/s. sparse_input: the input table's gradient
    sparse and stepped by SparseAdam (as reckon's sparse row update), the rest by Adam."""
    import torch
    torch.manual_seed(1)
    torch.set_num_threads(args.threads)
    n, h, batch = len(catalog.names), 100, 32

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.input = torch.nn.Embedding(n, 3 * h, sparse=sparse_input)  # one-hot input: the item's row of W_x
            torch.nn.init.normal_(self.input.weight, std=math.sqrt(2.0 / (n + 3 * h)))
            self.hidden = torch.nn.Linear(h, 3 * h)
            self.output = torch.nn.Linear(h, n)
            self.dropout = torch.nn.Dropout(0.5)

        def step(self, items, state):
            gx, gh = self.input(items), self.hidden(state)
            r = torch.sigmoid(gx[:, :h] + gh[:, :h])
            z = torch.sigmoid(gx[:, h:2 * h] + gh[:, h:2 * h])
            new = torch.tanh(gx[:, 2 * h:] + r * gh[:, 2 * h:])
            return (1 - z) * new + z * state

    net = Net()
    if sparse_input:
        dense = [p for name, p in net.named_parameters() if not name.startswith("input.")]
        opts = [torch.optim.SparseAdam(list(net.input.parameters()), lr=0.01), torch.optim.Adam(dense, lr=0.01)]
    else:
        opts = [torch.optim.Adam(net.parameters(), lr=0.01)]
    sessions = [[catalog.index[x] for x in items] for _, items, _ in sorted(train, key=lambda s: s[2])]
    sessions = [s for s in sessions if len(s) >= 2]
    clicks = 0
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        slot = list(range(batch))
        pos = [0] * batch
        nxt = batch
        state = torch.zeros(batch, h)
        while True:
            items = torch.tensor([sessions[slot[b]][pos[b]] for b in range(batch)])
            targets = torch.tensor([sessions[slot[b]][pos[b] + 1] for b in range(batch)])
            new = net.step(items, state.detach())  # no gradient through time, as GRU4Rec trains
            loss = torch.nn.functional.cross_entropy(net.output(net.dropout(new)), targets)
            for opt in opts:
                opt.zero_grad()
            loss.backward()
            for opt in opts:
                opt.step()
            clicks += batch
            state = new.detach().clone()
            done = False
            for b in range(batch):
                pos[b] += 1
                if pos[b] + 1 >= len(sessions[slot[b]]):
                    if nxt >= len(sessions):
                        done = True
                        break
                    slot[b], pos[b], nxt = nxt, 0, nxt + 1
                    state[b] = 0
            if done:
                break
    seconds = time.perf_counter() - start
    net.eval()

    def score(prefix):
        with torch.no_grad():
            state = torch.zeros(1, h)
            for i in [x for x in prefix if x >= 0][-50:]:
                state = net.step(torch.tensor([i]), state)
            return net.output(state)[0].numpy().astype(np.float32)
    return score, clicks / seconds


def reckon_eval(args, train_path, test_path):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run([args.reckon, "session", "eval", "--model", "pop,iknn,sknn,vsknn,gru4rec", "--train",
                          train_path, "--test", test_path, "--k", "20", "--device", "cpu", "--loss", "cross-entropy", "--threads",
                          str(args.threads), "--json"], check=True, capture_output=True, text=True, env=env).stdout
    return {r["model"]: r for r in json.loads(out)["results"]}


DATASETS = {
    "yoochoose": ("YooChoose 100k sample, prepare defaults (the last day as test)",
                  "yoochoose-clicks-100k_train_full.txt", ["--format", "sessions-tsv"]),
    "diginetica": ("DIGINETICA sample, prepare --min-item-support 2 (the last 7 days as test)",
                   "diginetica_sample_train-item-views.csv", ["--format", "diginetica", "--min-item-support", "2"]),
}


def prepare(args, name, work):
    """A shared sample's prepare split."""
    _, file, options = DATASETS[name]
    out = os.path.join(work, name)
    subprocess.run([args.reckon, "session", "prepare", "--input", os.path.join(args.data, "sessions", file), "--out",
                    out, *options, "--json"], check=True, capture_output=True)
    return os.path.join(out, "train_full.tsv"), os.path.join(out, "test.tsv")


def compare(args, name, work):
    train_path, test_path = prepare(args, name, work)
    train, test = read_sessions(train_path), read_sessions(test_path)
    catalog = Catalog(train)
    ours = reckon_eval(args, train_path, test_path)
    gru, gru_rate = gru4rec_model(train, catalog, args)
    references = {"pop": pop_model(catalog), "iknn": iknn_model(train, catalog),
                  "sknn": sknn_model(train, catalog, decay=False), "vsknn": sknn_model(train, catalog, decay=True),
                  "gru4rec": gru}
    rows = []
    for model, score in references.items():
        ref = evaluate(score, test, catalog)
        mine = ours[model]["metrics"]
        rows.append({"model": model, "reckon_hr@20": mine["hr@20"], "reference_hr@20": ref["hr@20"],
                     "reckon_mrr@20": mine["mrr@20"], "reference_mrr@20": ref["mrr@20"], "queries": ref["queries"]})
    reckon_rate = ours["gru4rec"]["epochs"][-1]["clicks_per_second"]
    return {"data": DATASETS[name][0], "models": rows,
            "gru4rec_train_clicks_per_second": {"reckon": reckon_rate, "pytorch": gru_rate,
                                                "ratio": reckon_rate / gru_rate}}


def synthetic_catalogue_sessions(path, items=40_000, sessions=10_000, seed=1):
    """Sessions over a 40,000-item catalogue, every item clicked: a permutation of the items cut into sessions of
    4, each followed by a popular item (Zipf), as TSV; timestamps in session order."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(items)
    popular = np.minimum(rng.zipf(1.3, sessions), items) - 1
    with open(path, "w") as f:
        f.write("SessionId\tItemId\tTime\n")
        for s in range(sessions):
            clicks = list(order[s * 4:(s + 1) * 4]) + [popular[s]]
            for p, item in enumerate(clicks):
                f.write(f"{s}\t{item}\t{s * 100 + p}\n")


def speed_at_40k(args, work):
    """GRU4Rec's training clicks/s on a 40,000-item catalogue, one epoch each: reckon with the full softmax and
    with BPR-max, PyTorch's reference with the full softmax (dense and sparse input updates)."""
    path = os.path.join(work, "catalogue40k.tsv")
    synthetic_catalogue_sessions(path)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    rates = {}
    for loss in ("cross-entropy", "bpr-max"):
        out = subprocess.run([args.reckon, "session", "train", "--model", "gru4rec", "--train", path, "--epochs", "1",
                              "--loss", loss, "--device", "cpu", "--threads", str(args.threads), "--save",
                              os.path.join(work, "g.ckpt"), "--json"],
                             check=True, capture_output=True, text=True, env=env).stdout
        rates["reckon_" + loss] = json.loads(out)["epochs"][-1]["clicks_per_second"]
    train = read_sessions(path)
    catalog = Catalog(train)
    for sparse in (False, True):
        _, rate = gru4rec_model(train, catalog, args, epochs=1, sparse_input=sparse)
        rates["pytorch_cross-entropy" + ("_sparse_input" if sparse else "")] = rate
    best = max(rates["pytorch_cross-entropy"], rates["pytorch_cross-entropy_sparse_input"])
    return {"items": len(catalog.names), "clicks_per_second": rates,
            "ratio_cross_entropy": rates["reckon_cross-entropy"] / best, "ratio_bpr_max": rates["reckon_bpr-max"] / best}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reckon", default="build/bin/reckon")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    add_output_options(ap)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        report = {"datasets": [compare(args, name, work) for name in DATASETS], "threads": args.threads,
                  "speed_40k": speed_at_40k(args, work)}
    if not emit(report, args):
        return
    for d in report["datasets"]:
        print(f"\nSession models, {d['data']}, every click a target, all items ranked, {args.threads} threads")
        print(f"{'model':<8} {'HR@20 reckon':>13} {'reference':>10} {'MRR@20 reckon':>14} {'reference':>10}")
        for r in d["models"]:
            print(f"{r['model']:<8} {r['reckon_hr@20']:>13.4f} {r['reference_hr@20']:>10.4f} "
                  f"{r['reckon_mrr@20']:>14.4f} {r['reference_mrr@20']:>10.4f}")
        t = d["gru4rec_train_clicks_per_second"]
        print(f"GRU4Rec training: reckon {t['reckon']:.0f} clicks/s, PyTorch {t['pytorch']:.0f} clicks/s "
              f"({t['ratio']:.2f}x)")
    s = report["speed_40k"]
    print(f"\nGRU4Rec training on {s['items']:,} items, one epoch, clicks/s: " +
          ", ".join(f"{k} {v:.0f}" for k, v in s["clicks_per_second"].items()))
    print(f"reckon / the faster PyTorch: cross-entropy {s['ratio_cross_entropy']:.2f}x, "
          f"BPR-max {s['ratio_bpr_max']:.2f}x")


if __name__ == "__main__":
    main()
