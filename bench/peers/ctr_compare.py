#!/usr/bin/env python3
"""reckon's CTR models beside a plain PyTorch model, same file, same preprocessing, same settings, one run.

For each model (LR, FM, DNN, DeepFM) it runs `reckon ctr train --json` and then the PyTorch model a user would write
(the issue's reference: one embedding per field drawn from N(0, init_std^2), first-order weights 0, FM term
1/2 sum((sum v)^2 - sum v^2), nn.Linear MLP with PyTorch's default init, BCEWithLogitsLoss, Adam on everything) on
the same Criteo-layout rows, tokenised as reckon's reader does (integer features bucketed as floor(ln(x)^2) for
x > 2, a vocabulary per field with --min-count, rare, unseen and missing tokens sharing one id). It prints a table of AUC,
logloss and training samples/s (parsing excluded on both sides) with the ratios, and the same as JSON with --json.

  python3 bench/peers/ctr_compare.py --synth 1000000 --test 200000       # a generated log (reckon ctr synth)
  python3 bench/peers/ctr_compare.py --train day0.txt --valid day1.txt   # any Criteo-layout file
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter

import numpy as np

from peer_report import add_output_options, emit

MODELS = ("lr", "fm", "dnn", "deepfm")


def criteo_integer_token(raw):
    """reckon's criteo_integer_token (models/ctr/dataset.cpp)."""
    if raw == "":
        return ""
    try:
        x = float(raw)
    except ValueError:
        return "?" + raw
    if x > 2:
        l = math.log(x)
        return "b" + str(int(math.floor(l * l)))
    return str(int(math.floor(x)))


def read_criteo(path):
    """Labels and per-row token lists of a Criteo-layout file (TSV, or CSV with a header), as reckon reads it."""
    labels, rows = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f):
            line = line.rstrip("\r\n")
            if not line:
                continue
            cols = line.split("\t") if "\t" in line else line.split(",")
            if len(cols) != 40:
                continue
            if number == 0 and cols[0] not in ("0", "1"):
                continue  # a header
            if cols[0] not in ("0", "1"):
                continue
            labels.append(float(cols[0]))
            rows.append([criteo_integer_token(c) for c in cols[1:14]] + cols[14:40])
    return np.asarray(labels, dtype=np.float32), rows


def encode(train_rows, valid_rows, min_count):
    """Per-field vocabularies from the training rows, ids offset into one table. Id 0 is shared by rare, unseen and
    missing (empty) tokens, as in reckon's reader (Vocabulary::lookup)."""
    fields = len(train_rows[0])
    counts = [Counter() for _ in range(fields)]
    for row in train_rows:
        for f, token in enumerate(row):
            if token:
                counts[f][token] += 1
    vocab = [{t: i + 1 for i, t in enumerate(sorted(t for t, c in cnt.items() if c >= min_count))} for cnt in counts]
    sizes = [len(v) + 1 for v in vocab]
    offsets = np.cumsum([0] + sizes[:-1]).astype(np.int64)

    def ids(rows):
        out = np.empty((len(rows), fields), dtype=np.int64)
        for r, row in enumerate(rows):
            out[r] = [vocab[f].get(t, 0) for f, t in enumerate(row)]
        return out + offsets

    return ids(train_rows), ids(valid_rows), sum(sizes), fields, sizes


def auc(labels, scores):
    """Area under the ROC curve with ties averaged (the Mann-Whitney statistic)."""
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    ranks = np.empty(len(s), dtype=np.float64)
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2.0 + 1.0
        i = j + 1
    y = labels[order]
    pos = y.sum()
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def logloss(labels, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def torch_model(torch, kind, rows, fields, dim, hidden, init_std, sparse):
    nn = torch.nn

    class Ctr(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(1))
            if kind != "dnn":
                self.first = nn.Embedding(rows, 1, sparse=sparse)
                nn.init.zeros_(self.first.weight)
            if kind != "lr":
                self.emb = nn.Embedding(rows, dim, sparse=sparse)
                nn.init.normal_(self.emb.weight, 0.0, init_std)
            if kind in ("dnn", "deepfm"):
                layers, width = [], fields * dim
                for h in hidden:
                    layers += [nn.Linear(width, h), nn.ReLU()]
                    width = h
                layers.append(nn.Linear(width, 1))
                self.mlp = nn.Sequential(*layers)

        def forward(self, x):
            logit = self.bias.expand(x.shape[0])
            if kind != "dnn":
                logit = logit + self.first(x).sum(dim=(1, 2))
            if kind == "lr":
                return logit
            v = self.emb(x)
            if kind in ("fm", "deepfm"):
                s = v.sum(dim=1)
                logit = logit + 0.5 * (s * s - (v * v).sum(dim=1)).sum(dim=1)
            if kind in ("dnn", "deepfm"):
                logit = logit + self.mlp(v.reshape(x.shape[0], -1)).squeeze(1)
            return logit

    return Ctr()


def run_torch(kind, data, args, init_std):
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train_x, train_y, valid_x, valid_y, rows, fields = data
    sparse = args.torch_optimizer == "sparse_adam"
    model = torch_model(torch, kind, rows, fields, args.embed_dim, args.hidden, init_std, sparse)
    if sparse:  # lazy Adam on the embedding rows a batch touches (reckon's form), Adam on the rest
        tables = [p for n, p in model.named_parameters() if n.startswith(("first.", "emb."))]
        dense = [p for n, p in model.named_parameters() if not n.startswith(("first.", "emb."))]
        optimizers = [torch.optim.SparseAdam(tables, lr=args.lr), torch.optim.Adam(dense, lr=args.lr)]
    else:
        optimizers = [torch.optim.Adam(model.parameters(), lr=args.lr)]
    return train_and_score(torch, model, optimizers, (train_x, train_y, valid_x, valid_y), args)


def train_and_score(torch, model, optimizers, data, args):
    """Epochs of shuffled batches through `model` (logits), validation AUC and logloss after each; samples/s."""
    train_x, train_y, valid_x, valid_y = data
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x, y, vx = torch.from_numpy(train_x), torch.from_numpy(train_y), torch.from_numpy(valid_x)
    generator = torch.Generator().manual_seed(args.seed)
    epochs, seconds, samples = [], 0.0, 0
    for _ in range(args.epochs):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(len(y), generator=generator)
        for b in range(0, len(y), args.batch):
            idx = perm[b:b + args.batch]
            for opt in optimizers:
                opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            for opt in optimizers:
                opt.step()
        seconds += time.perf_counter() - start
        samples += len(y)
        model.eval()
        with torch.no_grad():
            p = torch.cat([torch.sigmoid(model(vx[b:b + 65536])) for b in range(0, len(vx), 65536)]).numpy()
        epochs.append({"auc": auc(valid_y, p), "logloss": logloss(valid_y, p)})
    best = max(epochs, key=lambda e: e["auc"])
    return {"auc": epochs[-1]["auc"], "logloss": epochs[-1]["logloss"], "best_auc": best["auc"],
            "samples_per_s": samples / seconds, "epoch_aucs": [e["auc"] for e in epochs]}


def run_reckon_torch(data, field_sizes, args, init_std, mlp="reckon"):
    """DeepFM in plain PyTorch on reckon's modules (python/reckon): EmbeddingBagCollections with Adam fused into
    their backward for the tables, an MLP of reckon.nn.Linear layers (mlp="torch": torch.nn.Linear + ReLU), torch's
    Adam for the MLP."""
    import torch

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import reckon

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train_x, train_y, valid_x, valid_y, _, _ = data
    base = np.cumsum([0] + field_sizes[:-1]).astype(np.int64)
    model = reckon.models.DeepFM(field_sizes, args.embed_dim, args.hidden, "adam", args.lr, init_std,
                                 generator=torch.Generator().manual_seed(args.seed), mlp=mlp)
    optimizers = [torch.optim.Adam(model.dense_parameters(), lr=args.lr)]
    return train_and_score(torch, model, optimizers, (train_x - base, train_y, valid_x - base, valid_y), args)


def run_reckon(kind, args):
    cmd = [args.reckon, "ctr", "train", "--model", kind, "--format", "criteo", "--train", args.train, "--valid",
           args.valid, "--epochs", str(args.epochs), "--batch", str(args.batch), "--embed-dim", str(args.embed_dim),
           "--hidden", ",".join(map(str, args.hidden)), "--lr", str(args.lr), "--optimizer", "adam", "--min-count",
           str(args.min_count), "--threads", str(args.threads), "--seed", str(args.seed), "--patience", "0",
           "--keep-last", "--device", "cpu", "--json"]
    if args.init_std is not None:
        cmd += ["--init-std", str(args.init_std)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    r = json.loads(out)
    aucs = [e["auc"] for e in r["epoch_results"]]
    return {"auc": r["auc"], "logloss": r["logloss"], "best_auc": max(aucs), "samples_per_s": r["train_samples_per_s"],
            "epoch_aucs": aucs, "init_std": r["init_stddev"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reckon", default="build/bin/reckon")
    ap.add_argument("--train")
    ap.add_argument("--valid")
    ap.add_argument("--synth", type=int, help="generate a log of this many training rows (reckon ctr synth)")
    ap.add_argument("--test", type=int, default=200000, help="test rows of the generated log")
    ap.add_argument("--synth-seed", type=int, default=11)
    ap.add_argument("--structure", default="app-store", help="the generated log's planted structure: app-store or ads")
    ap.add_argument("--out", default="build/compare/ctr")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--embed-dim", type=int, default=16)
    ap.add_argument("--hidden", default="400,400,400")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--init-std", type=float, help="both sides (default: reckon's default for the model)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--torch-optimizer", default="adam", choices=("adam", "sparse_adam"),
                    help="PyTorch's: dense Adam on everything (the issue's reference) or SparseAdam on the tables")
    ap.add_argument("--no-reckon-torch", dest="reckon_torch", action="store_false",
                    help="leave out DeepFM in PyTorch on reckon's modules (python/reckon, built by make python)")
    add_output_options(ap)
    args = ap.parse_args()
    args.hidden = [int(h) for h in args.hidden.split(",") if h]
    if args.synth:
        os.makedirs(args.out, exist_ok=True)
        subprocess.run([args.reckon, "ctr", "synth", "--rows", str(args.synth), "--test", str(args.test), "--seed",
                        str(args.synth_seed), "--structure", args.structure, "--out", args.out, "--json"], check=True,
                       capture_output=True)
        args.train, args.valid = os.path.join(args.out, "train.txt"), os.path.join(args.out, "test.txt")
    if not args.train or not args.valid:
        ap.error("give --train and --valid, or --synth ROWS")

    start = time.perf_counter()
    train_y, train_rows = read_criteo(args.train)
    valid_y, valid_rows = read_criteo(args.valid)
    train_x, valid_x, rows, fields, field_sizes = encode(train_rows, valid_rows, args.min_count)
    del train_rows, valid_rows
    data = (train_x, train_y, valid_x, valid_y, rows, fields)
    prep_s = time.perf_counter() - start

    results = []
    for kind in args.models.split(","):
        rk = run_reckon(kind, args)
        pt = run_torch(kind, data, args, rk["init_std"])
        results.append({"model": kind, "reckon": rk, "pytorch": pt, "auc_difference": rk["auc"] - pt["auc"],
                        "speed_ratio": rk["samples_per_s"] / pt["samples_per_s"]})
        if kind == "deepfm" and args.reckon_torch:
            rt = run_reckon_torch(data, field_sizes, args, rk["init_std"])
            results[-1]["reckon_torch"] = rt
            results[-1]["reckon_torch_speed_ratio"] = rt["samples_per_s"] / pt["samples_per_s"]
            tm = run_reckon_torch(data, field_sizes, args, rk["init_std"], mlp="torch")
            results[-1]["reckon_torch_torch_mlp"] = tm
            results[-1]["reckon_torch_torch_mlp_speed_ratio"] = tm["samples_per_s"] / pt["samples_per_s"]
        if not args.json:
            print(f"{kind}: reckon AUC {rk['auc']:.4f}, PyTorch {pt['auc']:.4f}", file=sys.stderr)

    import torch

    report = {"train": args.train, "valid": args.valid, "structure": args.structure if args.synth else None, "train_rows": int(len(train_y)),
              "valid_rows": int(len(valid_y)), "fields": fields, "table_rows": int(rows),
              "settings": {"epochs": args.epochs, "batch": args.batch, "embed_dim": args.embed_dim,
                           "hidden": args.hidden, "lr": args.lr, "optimizer": "adam", "min_count": args.min_count,
                           "init_std": args.init_std or "each model's default", "threads": args.threads,
                           "torch_optimizer": args.torch_optimizer,
                           "seed": args.seed},
              "pytorch_version": torch.__version__, "pytorch_preprocessing_s": prep_s, "results": results}
    if not emit(report, args):
        return
    print(f"\nCTR side by side: {len(train_y)} training rows, {len(valid_y)} validation rows, {fields} fields; "
          f"{args.epochs} epoch(s), batch {args.batch}, K {args.embed_dim}, hidden {args.hidden}, Adam {args.lr}, "
          f"min-count {args.min_count}, init {args.init_std or 'each model default'}, {args.threads} threads, CPU; PyTorch "
          f"{torch.__version__}")
    print(f"{'model':<8}{'init':>6}{'reckon AUC':>12}{'PyTorch AUC':>13}{'diff':>9}{'reckon logloss':>16}{'PyTorch logloss':>17}"
          f"{'reckon samples/s':>18}{'PyTorch samples/s':>19}{'ratio':>8}")
    for r in results:
        rk, pt = r["reckon"], r["pytorch"]
        print(f"{r['model']:<8}{rk['init_std']:>6.3g}{rk['auc']:>12.4f}{pt['auc']:>13.4f}{r['auc_difference']:>+9.4f}{rk['logloss']:>16.4f}"
              f"{pt['logloss']:>17.4f}{rk['samples_per_s']:>18,.0f}{pt['samples_per_s']:>19,.0f}"
              f"{r['speed_ratio']:>7.1f}x")
    for r in results:
        if "reckon_torch" in r:
            rt, pt = r["reckon_torch"], r["pytorch"]
            tm = r["reckon_torch_torch_mlp"]
            print(f"{r['model']} in PyTorch on reckon's modules (fused Adam on the tables, reckon.nn.Linear MLP): AUC "
                  f"{rt['auc']:.4f} (reckon CLI {r['reckon']['auc']:.4f}), {rt['samples_per_s']:,.0f} samples/s, "
                  f"{r['reckon_torch_speed_ratio']:.2f}x nn.Embedding + Adam; with torch's MLP: AUC {tm['auc']:.4f}, "
                  f"{tm['samples_per_s']:,.0f} samples/s, {r['reckon_torch_torch_mlp_speed_ratio']:.2f}x")
    if args.epochs > 1:
        print("best epoch's AUC: " + "; ".join(f"{r['model']} reckon {r['reckon']['best_auc']:.4f}, PyTorch "
                                               f"{r['pytorch']['best_auc']:.4f}" for r in results))


if __name__ == "__main__":
    main()
