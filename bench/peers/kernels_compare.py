#!/usr/bin/env python3
"""reckon's CPU kernels beside PyTorch's on the same shapes, same threads, one run.

- embedding_bag, sum pooling: 26 tables (1,000,000 rows at D = 16, 250,000 at D = 64), B = 8192 bags of L = 1 or 20
  uniform ids; GB/s over rows read + ids + offsets + outputs. reckon: BM_EmbeddingBagFwd/cpu_peer_shapes, one call
  writing the [B, 26 * D] block a model's next layer reads; PyTorch: F.embedding_bag per table and torch.cat of the
  26 [B, D] results (DLRM's interaction input), and, for reference, the per-table calls alone, whose [B, D] outputs
  (2 MiB) stay in cache from call to call.
- FM interaction forward: B = 65,536, F = 39, K = 16; GB/s over input read + output written. reckon:
  BM_FmInteractionFwd/cpu; PyTorch: 1/2 sum_k((sum_f v)^2 - sum_f v^2).
- similar-item queries (matrix product + top-k, k = 20) over a 100,000 x 128 normalised table, 256 queries a batch;
  queries/s. reckon: BM_SimilarQueries/cpu; PyTorch: torch.topk(q @ table.T, 20).
- conv3d (3x3x3, padding 1, NCDHW, f32): the session model's first layer (N 64, C 1, 8x32x64, K 16), its deeper
  layer (N 64, C 16, 8x16x32, K 32) and C3D-wide (N 2, C 64, 8x28x28, K 64); forward, and forward + both gradients,
  GFLOP/s. reckon: BM_Conv3d/cpu; PyTorch: F.conv3d and autograd through it.

  python3 bench/peers/kernels_compare.py [--build build] [--threads N] [--json]
"""
import argparse
import json
import os
import subprocess
import time

from peer_report import add_output_options, emit


def reckon_bench(binary, name_filter, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([binary, f"--benchmark_filter={name_filter}", "--benchmark_format=json",
                          "--benchmark_min_time=0.5"], check=True, capture_output=True, text=True, env=env).stdout
    return {b["name"]: b for b in json.loads(out)["benchmarks"] if b.get("run_type", "iteration") == "iteration"}


def best_seconds(fn, min_time=0.5):
    fn()  # warm-up
    best, spent = float("inf"), 0.0
    while spent < min_time:
        start = time.perf_counter()
        fn()
        took = time.perf_counter() - start
        best, spent = min(best, took), spent + took
    return best


def embedding_bag(torch, args):
    bench = reckon_bench(os.path.join(args.build, "bench", "embedding_bench"), "BM_EmbeddingBagFwd/cpu_peer_shapes",
                         args.threads)
    rows_out = []
    for dim in (16, 64):
        rows = 1_000_000 if dim == 16 else 250_000
        gen = torch.Generator().manual_seed(7)
        tables = [torch.rand(rows, dim, generator=gen) * 0.1 - 0.05 for _ in range(26)]
        for bag in (1, 20):
            batch = 8192
            ids = [torch.randint(0, rows, (batch * bag,), generator=gen) for _ in range(26)]
            offsets = torch.arange(0, batch * bag, bag)

            def per_table():
                return [torch.nn.functional.embedding_bag(ids[t], tables[t], offsets, mode="sum") for t in range(26)]

            def with_cat():
                return torch.cat(per_table(), dim=1)

            nnz = batch * bag * 26
            nbytes = nnz * dim * 4 + nnz * 4 + (batch + 1) * 26 * 4 + batch * 26 * dim * 4
            torch_gbs = nbytes / best_seconds(with_cat) / 1e9
            torch_per_table_gbs = nbytes / best_seconds(per_table) / 1e9
            b = bench[f"BM_EmbeddingBagFwd/cpu_peer_shapes/D:{dim}/L:{bag}/real_time"]
            reckon_gbs = b["bytes_per_second"] / 1e9
            rows_out.append({"kernel": "embedding_bag", "shape": f"D={dim} L={bag}", "unit": "GB/s",
                             "reckon": reckon_gbs, "pytorch": torch_gbs, "ratio": reckon_gbs / torch_gbs,
                             "pytorch_per_table_calls_alone": torch_per_table_gbs,
                             "reckon_of_copy_bw": b.get("of_copy_bw")})
        del tables
    return rows_out


def fm(torch, args):
    bench = reckon_bench(os.path.join(args.build, "bench", "fm_bench"), "BM_FmInteractionFwd/cpu/", args.threads)
    b = next(v for k, v in bench.items() if k.startswith("BM_FmInteractionFwd/cpu/B:65536"))
    x = torch.rand(65536, 39, 16) * 0.2 - 0.1

    def run():
        s = x.sum(dim=1)
        return 0.5 * (s * s - (x * x).sum(dim=1)).sum(dim=1)

    nbytes = 65536 * (39 * 16 * 4 + 4)
    torch_gbs = nbytes / best_seconds(run) / 1e9
    reckon_gbs = b["bytes_per_second"] / 1e9
    return [{"kernel": "fm_interaction_fwd", "shape": "B=65536 F=39 K=16", "unit": "GB/s", "reckon": reckon_gbs,
             "pytorch": torch_gbs, "ratio": reckon_gbs / torch_gbs}]


def similar(torch, args):
    bench = reckon_bench(os.path.join(args.build, "bench", "item2vec_bench"), "BM_SimilarQueries/cpu", args.threads)
    b = next(iter(bench.values()))
    gen = torch.Generator().manual_seed(7)
    table = torch.nn.functional.normalize(torch.rand(100_000, 128, generator=gen) - 0.5, dim=1)
    queries = table[torch.arange(256) * 7919 % 100_000]

    def run():
        return torch.topk(queries @ table.T, 20, dim=1)

    torch_qps = 256 / best_seconds(run)
    return [{"kernel": "similar_queries (product + top-k)", "shape": "100000 x 128, k=20, 256 a batch",
             "unit": "queries/s", "reckon": b["queries_per_s"], "pytorch": torch_qps,
             "ratio": b["queries_per_s"] / torch_qps}]


CONV_SHAPES = [("session_first", 64, 1, 8, 32, 64, 16), ("session_deeper", 64, 16, 8, 16, 32, 32),
               ("c3d_wide", 2, 64, 8, 28, 28, 64)]


def conv3d(torch, args):
    bench = reckon_bench(os.path.join(args.build, "bench", "conv3d_bench"), "BM_Conv3d/cpu/", args.threads)
    rows = []
    for name, n, c, d, h, w, k in CONV_SHAPES:
        gen = torch.Generator().manual_seed(7)
        x = torch.rand(n, c, d, h, w, generator=gen) * 2 - 1
        weight = (torch.rand(k, c, 3, 3, 3, generator=gen) * 2 - 1).requires_grad_()
        bias = torch.zeros(k, requires_grad=True)
        xg = x.clone().requires_grad_()
        flops = 2.0 * n * k * d * h * w * c * 27  # padding 1, stride 1: the output is the input's size

        def forward():
            with torch.no_grad():
                return torch.nn.functional.conv3d(x, weight, bias, padding=1)

        def training():
            y = torch.nn.functional.conv3d(xg, weight, bias, padding=1)
            y.backward(torch.ones_like(y))

        torch_fwd = flops / best_seconds(forward) / 1e9
        torch_train = 3 * flops / best_seconds(training) / 1e9
        ms = {op: bench[f"BM_Conv3d/cpu/{op}/{name}/real_time"]["real_time"]
              for op in ("fwd", "bwd_data", "bwd_weights")}
        reckon_fwd = flops / (ms["fwd"] * 1e-3) / 1e9
        reckon_train = 3 * flops / (sum(ms.values()) * 1e-3) / 1e9
        shape = f"N{n} C{c} {d}x{h}x{w} K{k}"
        chosen = {op: bench[f"BM_Conv3d/cpu/{op}/{name}/real_time"].get("label", "") for op in ms}
        rows.append({"kernel": f"conv3d forward ({name})", "shape": shape, "unit": "GFLOP/s", "reckon": reckon_fwd,
                     "pytorch": torch_fwd, "ratio": reckon_fwd / torch_fwd, "implementations": chosen})
        rows.append({"kernel": f"conv3d fwd+bwd ({name})", "shape": shape, "unit": "GFLOP/s", "reckon": reckon_train,
                     "pytorch": torch_train, "ratio": reckon_train / torch_train, "implementations": chosen})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", default="embedding_bag,fm,similar,conv3d")
    add_output_options(ap)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    runs = {"embedding_bag": embedding_bag, "fm": fm, "similar": similar, "conv3d": conv3d}
    rows = []
    for name in args.only.split(","):
        rows += runs[name](torch, args)
    report = {"threads": args.threads, "pytorch_version": torch.__version__, "results": rows}
    if not emit(report, args):
        return
    print(f"\nCPU kernels side by side ({args.threads} threads, PyTorch {torch.__version__})")
    print(f"{'kernel':<36}{'shape':<34}{'unit':<11}{'reckon':>12}{'PyTorch':>12}{'ratio':>8}")
    for r in rows:
        print(f"{r['kernel']:<36}{r['shape']:<34}{r['unit']:<11}{r['reckon']:>12,.1f}{r['pytorch']:>12,.1f}"
              f"{r['ratio']:>7.2f}x")
    alone = [r for r in rows if "pytorch_per_table_calls_alone" in r]
    if alone:
        print("PyTorch embedding_bag without the concatenation (outputs reused in cache): " +
              ", ".join(f"{r['shape']} {r['pytorch_per_table_calls_alone']:.1f} GB/s" for r in alone))


if __name__ == "__main__":
    main()
