#!/usr/bin/env python3
"""reckon's session models beside reference implementations, on the same splits and the same protocol, one run.

The references are written here from the papers, independently of reckon's code: POP, item-kNN (cosine of
co-occurrence over the binary session x item matrix, self-similarity 0), SKNN and V-SKNN (Ludewig & Jannach 2018:
the 500 most recent training sessions sharing an item, the 100 most similar by cosine, V-SKNN's current session
weighted by linear decay p / n) in numpy, a plain PyTorch GRU4Rec (one-hot input as the item's row of W_x, one
GRU layer, dropout, a full-catalogue softmax, Adam, session-parallel mini-batches with the state reset per session),
and the 3D CNN in PyTorch layer for layer (on the session demo's synthetic shop sessions with item content).
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



def read_items(path):
    """{item: (category, text)} from items.tsv (ItemId, Category, Text)."""
    out = {}
    with open(path, encoding="utf-8") as f:
        f.readline()
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) == 3:
                out[cols[0]] = (cols[1], cols[2])
    return out


def encode_items(catalog, items, id_chars=8, category_chars=16, text_chars=24):
    """Each item's positions as symbols (reckon's encoding, written from its documentation): the item's id token,
    then the last id_chars bytes of its id, the first category_chars of its category and text_chars of its text,
    -1 padding; bytes the catalogue uses are symbols 1.. in byte order, id tokens follow the alphabet."""
    fields = []
    for name in catalog.names:
        category, text = items.get(name, ("", ""))
        fields.append((name.encode()[-id_chars:] if id_chars else b"", category.encode()[:category_chars],
                       text.encode()[:text_chars]))
    used = sorted({b for f in fields for part in f for b in part})
    symbol = {b: i + 1 for i, b in enumerate(used)}
    alphabet = len(used) + 1
    width = 1 + id_chars + category_chars + text_chars
    codes = np.full((len(fields), width), -1, dtype=np.int64)
    for i, (ident, category, text) in enumerate(fields):
        codes[i, 0] = alphabet + i
        at = 1
        for part, w in ((ident, id_chars), (category, category_chars), (text, text_chars)):
            codes[i, at:at + len(part)] = [symbol[b] for b in part]
            at += w
    return codes, alphabet


def content_words(catalog, items, min_items=2):
    """Each item's output features: the lower-cased words of its category and text shared by min_items items."""
    import re
    words = []
    for name in catalog.names:
        category, text = items.get(name, ("", ""))
        w = {"c:" + x for x in re.findall(r"[a-z0-9\x80-\uffff]+", category.lower())}
        w |= {"t:" + x for x in re.findall(r"[a-z0-9\x80-\uffff]+", text.lower())}
        words.append(w)
    count = {}
    for w in words:
        for x in w:
            count[x] = count.get(x, 0) + 1
    vocab = {x: i for i, x in enumerate(sorted(x for x, c in count.items() if c >= min_items))}
    return [[vocab[x] for x in sorted(w) if x in vocab] for w in words], len(vocab)


def cnn3d_model(train, catalog, items, args, epochs, batch=128, clicks=10, e=16, f=64, h=100, samples=2048):
    """The 3D CNN in PyTorch, layer for layer as reckon's (docs/SESSIONS.md): character embeddings, Conv3d E -> F
    (2 clicks x 3 characters, no bias) + ReLU, max pooling over 4 characters, Conv3d F -> 2F + ReLU, max pooling over
    the positions that see a real click, Linear 2F -> H plus the last click's vector, dropout 0.3, BPR-max over the
    batch's targets and 2048 items drawn by count^0.5 with content words in the output; Adam at 0.002, samples
    shuffled and batched from length-sorted runs. Returns the scorer and the training clicks/s."""
    import torch
    import torch.nn.functional as F
    torch.manual_seed(1)
    torch.set_num_threads(args.threads)
    codes, alphabet = encode_items(catalog, items)
    n, length = codes.shape
    pad = alphabet + n
    table = torch.from_numpy(np.where(codes < 0, pad, codes))
    words, vocab = content_words(catalog, items)
    word_ids = torch.tensor([x for w in words for x in w] or [0], dtype=torch.long)
    word_offsets = torch.tensor(np.cumsum([0] + [len(w) for w in words])[:-1], dtype=torch.long)
    has_words = torch.tensor([len(w) > 0 for w in words])

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.chars = torch.nn.Embedding(pad + 1, e, padding_idx=pad)
            torch.nn.init.normal_(self.chars.weight, std=0.1)
            with torch.no_grad():
                self.chars.weight[pad] = 0
            self.conv1 = torch.nn.Conv3d(e, f, (2, 3, 1), padding=(1, 1, 0), bias=False)
            self.conv2 = torch.nn.Conv3d(f, 2 * f, (2, 3, 1), padding=(1, 1, 0))
            self.dense = torch.nn.Linear(2 * f, h)
            self.last = torch.nn.Embedding(n, h)
            self.items = torch.nn.Embedding(n, h)
            self.words = torch.nn.EmbeddingBag(max(vocab, 1), h, mode="mean")
            self.item_bias = torch.nn.Embedding(n, 1)
            self.word_bias = torch.nn.EmbeddingBag(max(vocab, 1), 1, mode="mean")
            for t in (self.last, self.items, self.words):
                torch.nn.init.normal_(t.weight, std=math.sqrt(2.0 / (n + h)))
            torch.nn.init.zeros_(self.item_bias.weight)
            torch.nn.init.zeros_(self.word_bias.weight)

        def state(self, prefixes, training):
            depth = max(1, max(len(p) for p in prefixes))  # an empty prefix (no known item) reads padding
            ids = torch.full((len(prefixes), depth), -1, dtype=torch.long)
            for b, p in enumerate(prefixes):
                ids[b, :len(p)] = torch.tensor(p)
            volume = self.chars(torch.where(ids[..., None] >= 0, table[ids.clamp(min=0)], pad))  # [B, D, L, E]
            x = volume.permute(0, 3, 1, 2).unsqueeze(-1)  # [B, E, D, L, 1]
            x = F.max_pool3d(F.relu(self.conv1(x)), (1, 4, 1))
            x = F.relu(self.conv2(x))  # [B, 2F, D + 2, L / 4, 1]
            lengths = torch.tensor([len(p) + 2 for p in prefixes])
            mask = torch.arange(x.shape[2])[None, :] < lengths[:, None]
            x = x.masked_fill(~mask[:, None, :, None, None], float("-inf")).amax(dim=(2, 3, 4))
            last = torch.tensor([p[-1] if p else 0 for p in prefixes])
            state = self.dense(x) + self.last(last) * torch.tensor([[1.0 if p else 0.0] for p in prefixes])
            return F.dropout(state, 0.3, training)

        def columns(self, cols):
            w = self.items(cols) + self.words(word_ids, word_offsets)[cols] * has_words[cols, None]
            b = self.item_bias(cols)[:, 0] + self.word_bias(word_ids, word_offsets)[cols, 0] * has_words[cols]
            return w, b

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=0.002)
    weights = catalog.counts ** 0.5
    weights /= weights.sum()
    rng = np.random.default_rng(1)
    sessions = [[catalog.index[x] for x in items_] for _, items_, _ in train]
    examples = [(s, p) for s, sess in enumerate(sessions) for p in range(1, len(sess))]
    clicks_done = 0
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        order = [examples[i] for i in rng.permutation(len(examples))]
        run = 32 * batch
        for at in range(0, len(order), run):
            order[at:at + run] = sorted(order[at:at + run], key=lambda x: min(x[1], clicks))
        for at in range(0, len(order) - batch + 1, batch):
            chunk = order[at:at + batch]
            prefixes = [sessions[s][max(0, p - clicks):p] for s, p in chunk]
            targets = torch.tensor([sessions[s][p] for s, p in chunk])
            cols = torch.cat([targets, torch.from_numpy(rng.choice(n, samples, p=weights))])
            w, bias = net.columns(cols)
            scores = net.state(prefixes, True) @ w.T + bias  # [B, B + samples]
            positive = scores[torch.arange(batch), torch.arange(batch)]
            negative = cols[None, :] != targets[:, None]  # a column holding the row's own item is no negative
            s = torch.softmax(scores.masked_fill(~negative, float("-inf")), dim=1)
            loss = -torch.log((s * torch.sigmoid(positive[:, None] - scores)).sum(1) + 1e-24) + (s * scores ** 2).sum(1)
            opt.zero_grad()
            loss.mean().backward()
            opt.step()
            clicks_done += batch
    seconds = time.perf_counter() - start
    net.eval()
    all_cols = torch.arange(n)

    def score(prefix):
        known = [x for x in prefix if x >= 0][-clicks:]
        with torch.no_grad():
            w, bias = net.columns(all_cols)
            return (net.state([known], False) @ w.T + bias)[0].numpy().astype(np.float32)
    return score, clicks_done / seconds

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


def compare_cnn3d(args, work, epochs=3):
    """The 3D CNN beside its PyTorch reference on the session demo's synthetic shop sessions (item content in
    items.tsv): the same settings and epochs, training clicks/s and HR@20 / MRR@20 on the test sessions with the
    training items ranked (reckon without --new-items, as the reference's catalogue has no unclicked items)."""
    out = os.path.join(work, "shop")
    subprocess.run([args.reckon, "session", "demo", "--write-only", "--out", out, "--json"], check=True,
                   capture_output=True)
    train_path, test_path, items_path = (os.path.join(out, f) for f in ("train.tsv", "test.tsv", "items.tsv"))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    result = subprocess.run([args.reckon, "session", "eval", "--model", "cnn3d", "--train", train_path, "--items",
                             items_path, "--epochs", str(epochs), "--test", test_path, "--k", "20",
                             "--device", "cpu", "--threads", str(args.threads), "--json"],
                            check=True, capture_output=True, text=True, env=env).stdout
    ours = json.loads(result)["results"][0]
    seconds = sum(e["seconds"] for e in ours["epochs"])
    reckon_rate = sum(e["clicks_per_second"] * e["seconds"] for e in ours["epochs"]) / seconds
    train, test = read_sessions(train_path), read_sessions(test_path)
    catalog = Catalog(train)
    score, torch_rate = cnn3d_model(train, catalog, read_items(items_path), args, epochs)
    ref = evaluate(score, test, catalog)
    return {"data": "the session demo's synthetic shop sessions", "epochs": epochs,
            "reckon": {"hr@20": ours["metrics"]["hr@20"], "mrr@20": ours["metrics"]["mrr@20"],
                       "train_clicks_per_second": reckon_rate},
            "pytorch": {"hr@20": ref["hr@20"], "mrr@20": ref["mrr@20"], "train_clicks_per_second": torch_rate},
            "ratio": reckon_rate / torch_rate}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reckon", default="build/bin/reckon")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    add_output_options(ap)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        report = {"datasets": [compare(args, name, work) for name in DATASETS], "threads": args.threads,
                  "speed_40k": speed_at_40k(args, work), "cnn3d": compare_cnn3d(args, work)}
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
    c = report["cnn3d"]
    print(f"\n3D CNN, {c['data']}, {c['epochs']} epochs, HR@20 / MRR@20 and training clicks/s:")
    for who in ("reckon", "pytorch"):
        r = c[who]
        print(f"{who:<8} {r['hr@20']:.4f} / {r['mrr@20']:.4f}  {r['train_clicks_per_second']:.0f} clicks/s")
    print(f"reckon / PyTorch training speed: {c['ratio']:.2f}x")


if __name__ == "__main__":
    main()
