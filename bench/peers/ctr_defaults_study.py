#!/usr/bin/env python3
"""Validation of a CTR default across data: held-out AUC of FM, DNN and DeepFM for each value of one `ctr train`
option on several logs, every other option at the log's schedule. Used to choose --init-std (docs/CTR.md).

Logs: the demo's app-store log and schedule; a 1M-row app-store log with another seed and a 1M-row ads log (other
planted structure, reckon ctr synth --structure ads), both at the CLI's defaults; MovieLens as clicks (with
../shared/data) at its documented schedule; the Criteo and Avazu samples (200 and 100 rows: a pipeline check,
trained and scored on themselves, not evidence).

  python3 bench/peers/ctr_defaults_study.py [--values 0.001,0.003,0.01,0.03,0.05,0.1] [--rows 1000000] [--json]
"""
import argparse
import json
import os
import subprocess
import sys


def reckon(args, *cmd):
    out = subprocess.run([args.reckon, "ctr", *cmd, "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def logs(args):
    """(name, training options) of each log, generated or converted under --out; --only-1m keeps the two 1M logs."""
    out = []
    if not args.only_1m:
        demo = os.path.join(args.out, "app_store_demo")
        reckon(args, "synth", "--rows", "300000", "--test", "50000", "--seed", "1", "--out", demo)
        out.append(("app-store, demo schedule (300k rows, 2 epochs, batch 512, lr 0.003, 200-200)",
                    ["--train", f"{demo}/train.txt", "--valid", f"{demo}/test.txt", "--epochs", "2", "--batch",
                     "512", "--lr", "0.003", "--hidden", "200,200"]))
    for structure, seed in (("app-store", 11), ("ads", 3)):
        d = os.path.join(args.out, f"{structure}_{seed}")
        reckon(args, "synth", "--rows", str(args.rows), "--test", str(args.rows // 5), "--seed", str(seed),
               "--structure", structure, "--out", d)
        out.append((f"{structure} seed {seed}, CLI defaults ({args.rows // 1000}k rows, 1 epoch, batch 4096, lr 1e-3, "
                    "400-400-400)", ["--train", f"{d}/train.txt", "--valid", f"{d}/test.txt"]))
    data = args.data
    if args.only_1m:
        return out
    if not os.path.isdir(data):
        print(f"{data} is missing: MovieLens and the Criteo/Avazu samples left out", file=sys.stderr)
        return out
    ml = os.path.join(args.out, "movielens")
    reckon(args, "movielens", "--ratings", f"{data}/movielens/ratings.csv", "--movies", f"{data}/movielens/movies.csv",
           "--out", ml)
    out.append(("MovieLens as clicks (3 epochs, batch 512, lr 0.002, 200-200)",
                ["--format", f"schema:{ml}/schema.txt", "--train", f"{ml}/train.txt", "--valid", f"{ml}/test.txt",
                 "--epochs", "3", "--batch", "512", "--lr", "0.002", "--hidden", "200,200"]))
    for name, fmt in (("criteo_sample.txt", "criteo"), ("avazu_sample.txt", "avazu")):
        f = f"{data}/ctr/{name}"
        out.append((f"{name} (trained and scored on itself: a pipeline check)",
                    ["--format", fmt, "--train", f, "--valid", f, "--epochs", "3", "--batch", "64", "--hidden",
                     "64,64"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reckon", default="build/bin/reckon")
    ap.add_argument("--option", default="--init-std")
    ap.add_argument("--values", default="0.001,0.003,0.01,0.03,0.05,0.1")
    ap.add_argument("--models", default="fm,dnn,deepfm")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seeds", default="1", help="model seeds; the table gives each value's mean AUC over them")
    ap.add_argument("--only-1m", action="store_true", help="only the two 1M-row logs")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="build/compare/defaults")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    values = args.values.split(",")
    results = []
    for name, options in logs(args):
        for model in args.models.split(","):
            row = {"log": name, "model": model, "auc": {}, "auc_by_seed": {}}
            for v in values:
                aucs = [reckon(args, "train", "--model", model, *options, args.option, v, "--threads",
                               str(args.threads), "--device", "cpu", "--seed", seed)["auc"]
                        for seed in args.seeds.split(",")]
                row["auc"][v] = sum(aucs) / len(aucs)
                row["auc_by_seed"][v] = aucs
            best = max(values, key=lambda v: row["auc"][v])
            row["best"] = best
            results.append(row)
            print(f"{name} {model}: " + "  ".join(f"{v}: {row['auc'][v]:.4f}" for v in values), file=sys.stderr)
    report = {"option": args.option, "values": values, "seeds": args.seeds.split(","), "results": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"\nheld-out AUC by {args.option}")
    print(f"{'log':<82}{'model':<8}" + "".join(f"{v:>9}" for v in values))
    for r in results:
        print(f"{r['log'][:80]:<82}{r['model']:<8}" + "".join(f"{r['auc'][v]:>9.4f}" for v in values))


if __name__ == "__main__":
    main()
