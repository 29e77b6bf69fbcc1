#!/usr/bin/env python3
"""reckon's item2vec beside gensim's Word2Vec (skip-gram, negative sampling): same corpus, same settings, one run.

Both sets of vectors are scored by the same evaluator (`reckon item2vec eval`, which reproduces gensim's
evaluate_word_analogies; docs/ITEM2VEC.md):
- text: raw words/s of training and analogy accuracy (questions-words, 30,000 most frequent words);
- sessions: next-item HR@20 / MRR@20 under the field's protocol (the last item queries, every item ranked) and
  under the other one (the mean of all previous items, the session's items excluded).

  python3 bench/peers/item2vec_compare.py [--data ../shared/data] [--threads N] [--json]
"""
import argparse
import json
import os
import subprocess
import time

from peer_report import add_output_options, emit, read_session_clicks


def reckon(args, *cmd):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run([args.reckon, "item2vec", *cmd, "--json"], check=True, capture_output=True, text=True,
                         env=env).stdout
    return json.loads(out)


def session_sentences(path):
    """Sessions of a SessionId/ItemId/Time TSV, items in time order (ties in file order)."""
    return [[item for _, _, item in clicks] for clicks in read_session_clicks(path).values()]


def gensim_train(sentences, settings, threads, out_path):
    from gensim.models import Word2Vec

    model = Word2Vec(vector_size=settings["dim"], window=settings["window"], negative=settings["negative"],
                     sample=settings["sample"], min_count=settings["min_count"], sg=1, hs=0, alpha=0.025,
                     min_alpha=0.0001, workers=threads, seed=1)
    model.build_vocab(sentences)
    start = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=settings["epochs"])
    seconds = time.perf_counter() - start
    model.wv.save_word2vec_format(out_path, binary=True)
    raw = model.corpus_total_words * settings["epochs"]
    return {"seconds": seconds, "raw_words_per_s": raw / seconds}


def reckon_train(args, corpus, fmt, settings, out_path):
    r = reckon(args, "train", "--input", corpus, "--format", fmt, "--output", out_path, "--binary", "--dim",
               str(settings["dim"]), "--window", str(settings["window"]), "--negative", str(settings["negative"]),
               "--sample", str(settings["sample"]), "--min-count", str(settings["min_count"]), "--epochs",
               str(settings["epochs"]), "--threads", str(args.threads), "--device", "cpu")
    return {"seconds": r["seconds"], "raw_words_per_s": r["raw_words_per_s"]}


def text_comparison(args):
    corpus = os.path.join(args.data, "text", "text8_500k.txt")
    questions = os.path.join(args.data, "text", "questions-words.txt")
    settings = {"dim": 100, "window": 5, "negative": 5, "sample": 1e-3, "min_count": 5, "epochs": 5}
    from gensim.models.word2vec import LineSentence

    out = {}
    for name, train in (("reckon", lambda p: reckon_train(args, corpus, "text", settings, p)),
                        ("gensim", lambda p: gensim_train(LineSentence(corpus), settings, args.threads, p))):
        path = os.path.join(args.out, f"text8_{name}.bin")
        speed = train(path)
        analogy = reckon(args, "eval", "--vectors", path, "--analogy", questions, "--device", "cpu")
        out[name] = {**speed, "analogy_accuracy": analogy["accuracy"]}
    return {"corpus": corpus, "settings": settings, **out}


def session_comparison(args):
    train = os.path.join(args.data, "sessions", "yoochoose-clicks-100k_train_full.txt")
    test = os.path.join(args.data, "sessions", "yoochoose-clicks-100k_test.txt")
    settings = {"dim": 64, "window": 3, "negative": 10, "sample": 1e-4, "min_count": 1, "epochs": 20}
    sentences = session_sentences(train)
    out = {}
    for name, fit in (("reckon", lambda p: reckon_train(args, train, "sessions-tsv", settings, p)),
                      ("gensim", lambda p: gensim_train(sentences, settings, args.threads, p))):
        path = os.path.join(args.out, f"yoochoose_{name}.bin")
        speed = fit(path)
        field = reckon(args, "eval", "--vectors", path, "--sessions", test, "--k", "20", "--device", "cpu")
        other = reckon(args, "eval", "--vectors", path, "--sessions", test, "--k", "20", "--context-window", "0",
                       "--exclude-seen", "--device", "cpu")
        out[name] = {**speed, "field_protocol": {"hr": field["hr"], "mrr": field["mrr"]},
                     "mean_of_previous_seen_excluded": {"hr": other["hr"], "mrr": other["mrr"]},
                     "popularity_field_protocol": {"hr": field["popularity_hr"], "mrr": field["popularity_mrr"]}}
    return {"train": train, "test": test, "settings": settings, **out}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reckon", default="build/bin/reckon")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="build/compare/item2vec")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    add_output_options(ap)
    args = ap.parse_args()
    if not os.path.isdir(args.data):
        raise SystemExit(f"{args.data} is missing: the item2vec comparison needs the shared samples")
    os.makedirs(args.out, exist_ok=True)
    import gensim

    report = {"threads": args.threads, "gensim_version": gensim.__version__, "text": text_comparison(args),
              "sessions": session_comparison(args)}
    if not emit(report, args):
        return
    t, s = report["text"], report["sessions"]
    print(f"\nitem2vec side by side ({args.threads} threads, CPU, gensim {gensim.__version__})")
    print(f"{'':<10}{'text8_500k words/s':>20}{'analogy':>10}{'YC HR@20':>11}{'MRR@20':>9}"
          f"{'HR@20 (mean, seen excl.)':>26}{'MRR@20':>9}")
    for name in ("reckon", "gensim"):
        f, o = s[name]["field_protocol"], s[name]["mean_of_previous_seen_excluded"]
        acc = t[name]["analogy_accuracy"]
        print(f"{name:<10}{t[name]['raw_words_per_s']:>20,.0f}{100 * (acc or 0):>9.2f}%{f['hr']:>11.4f}{f['mrr']:>9.4f}"
              f"{o['hr']:>26.4f}{o['mrr']:>9.4f}")
    print(f"{'ratio':<10}{t['reckon']['raw_words_per_s'] / t['gensim']['raw_words_per_s']:>19.2f}x")


if __name__ == "__main__":
    main()
