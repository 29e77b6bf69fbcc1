#!/usr/bin/env bash
# GPU verification in one call, for an NVIDIA H200 machine lent through the device tool (see docs/DEVICE.md).
#
# Prepare here:   scripts/build_device_bundle.sh
# Run there:      bash scripts/device_check.sh        (carry .device; the whole script stays under 8 minutes)
#
# It prints an environment probe, runs every test binary (CUDA parity tests included) and a short benchmark sweep,
# optionally compute-sanitizer on the kernel tests, writes logs and JSON under $OUT (when set), and prints a
# summary table last.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/reckon-device-check}"
mkdir -p "$out"
bundle=.device/bundle
log="$out/device_check.log"
: >"$log"
started=$(date +%s)
say() { echo "$*" | tee -a "$log"; }
elapsed() { echo $(( $(date +%s) - started )); }

say "==== environment probe"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -srm)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv,noheader 2>&1 | head -4
  echo "nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo 'not found')"
  echo "g++: $(g++ --version 2>/dev/null | head -1 || echo 'not found')"
  echo "cmake: $(cmake --version 2>/dev/null | head -1 || echo 'not found')"
  echo "python3: $(python3 -c 'import sys,torch; print(sys.version.split()[0], "torch", torch.__version__)' 2>/dev/null || echo 'no torch')"
} 2>&1 | tee -a "$log"

# Library folders that hold cuBLAS, cuRAND and cuDNN: the toolkit's, the linker cache's, and pip's nvidia packages.
libdirs=()
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
  [ -d "$d" ] && libdirs+=("$d")
done
while IFS= read -r d; do libdirs+=("$d"); done < <(python3 - <<'PY' 2>/dev/null
import glob, os, site
roots = set(site.getsitepackages() + [site.getusersitepackages()])
for root in roots:
    for lib in glob.glob(os.path.join(root, "nvidia", "*", "lib")):
        print(lib)
PY
)
find_lib() {  # first folder holding $1
  for d in "${libdirs[@]}"; do
    compgen -G "$d/$1" >/dev/null && { echo "$d"; return 0; }
  done
  return 1
}
extra=""
for lib in 'libcublas.so.13*' 'libcublasLt.so.13*' 'libcurand.so.10*' 'libcufft.so.12*' 'libcudnn.so.9*'; do
  if d=$(find_lib "$lib"); then
    say "found $lib in $d"
    case ":$extra:" in *":$d:"*) ;; *) extra="$extra:$d" ;; esac
  else
    say "NOT FOUND: $lib"
  fi
done
say "gtest/benchmark on this machine: $(ls /usr/lib/x86_64-linux-gnu/libgtest* /usr/local/lib/libgtest* 2>/dev/null | head -1 || true) (not needed: the bundle carries its binaries)"

if [ ! -d "$bundle/tests" ]; then
  say "ERROR: $bundle is missing. Run scripts/build_device_bundle.sh on the build machine and carry .device."
  exit 2
fi
say "bundle: commit $(cat $bundle/COMMIT 2>/dev/null), built for sm_90 (+ PTX for sm_75)"
export LD_LIBRARY_PATH="$PWD/$bundle/lib${extra}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for f in "$bundle"/tests/* "$bundle"/bench/* "$bundle"/bin/*; do
  missing=$(ldd "$f" 2>/dev/null | grep "not found" || true)
  [ -n "$missing" ] && say "ldd $f: $missing"
done

say ""
say "==== one CUDA runtime per program ($(elapsed)s)"
bash tests/cmake/one_cuda_runtime.sh "$bundle" 2>&1 | tail -5 | tee -a "$log"

say ""
say "==== reckon info ($(elapsed)s)"
"$bundle/bin/reckon" info --kernels 2>&1 | tee -a "$log"
"$bundle/bin/reckon" info --json >"$out/info.json" 2>>"$log"

say ""
say "==== tests ($(elapsed)s)"
mkdir -p "$out/tests"
for t in "$bundle"/tests/*_test; do
  name=$(basename "$t")
  timeout 240 "$t" --gtest_brief=1 --gtest_output="json:$out/tests/$name.json" >>"$log" 2>&1
  rc=$?
  say "$name: exit $rc"
done
# The debugging switch synchronises after every op except inside a graph capture.
RECKON_SYNC_LAUNCHES=1 timeout 120 "$bundle/tests/ctr_test" --gtest_brief=1 \
  --gtest_filter='CtrTrainingCuda.Captured*' >>"$log" 2>&1
say "ctr_test CtrTrainingCuda.Captured* under RECKON_SYNC_LAUNCHES=1: exit $?"

say ""
say "==== benchmarks ($(elapsed)s)"
mkdir -p "$out/bench"
for b in "$bundle"/bench/*_bench; do
  name=$(basename "$b")
  # GPU benchmarks only: the host ones describe the build machine's CPU and are run there (make bench).
  timeout 300 "$b" --benchmark_filter=cuda --benchmark_min_time=0.05 --benchmark_out="$out/bench/$name.json" \
    --benchmark_out_format=json >>"$log" 2>&1
  say "$name: exit $?"
done
# One host figure that bears on the GPU: how fast the CTR readers parse on this machine's cores (one thread
# against all), since in-memory training parses the whole file before the first step.
timeout 60 "$bundle/bench/ctr_bench" --benchmark_filter='CtrRead' --benchmark_min_time=0.05 \
  --benchmark_out="$out/bench/ctr_read_host.json" --benchmark_out_format=json >>"$log" 2>&1
say "ctr_bench BM_CtrRead on the host ($(nproc) cores): exit $?"

say ""
say "==== item2vec end to end on the GPU ($(elapsed)s)"
demo_json=$(timeout 120 "$bundle/bin/reckon" item2vec demo --device cuda --out /tmp/reckon_item2vec_demo --json 2>>"$log")
say "item2vec demo (cuda): exit $? ${demo_json:0:600}"

# Quality and speed on the shared samples when the bundle carries them, against the build machine's CPU runs
# (docs/ITEM2VEC.md): text8_500k at d=100 (CPU, 10 seeds: analogies 1.73-2.25%, mean 1.98%; ws353 0.210, SimLex
# 0.064, MEN 0.108-0.135), the same at d=128 (the GPU speed target's setting), and YooChoose (CPU HR@20
# 0.2409-0.2442).
data="$bundle/data"
if [ -f "$data/text8_500k.txt" ]; then
  for dim in 100 128; do
    i2v_json=$(timeout 120 "$bundle/bin/reckon" item2vec train --device cuda --input "$data/text8_500k.txt" \
      --output /tmp/reckon_text8_$dim.vec --dim $dim --window 5 --negative 5 --sample 1e-3 --epochs 5 --json 2>>"$log")
    rc=$?
    brief=$(echo "$i2v_json" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("raw_words_per_s", round(r["raw_words_per_s"]), "effective", round(r["effective_words_per_s"]), "seconds", round(r["seconds"], 2), "losses", [round(e["loss"], 3) for e in r["epoch_results"]])' 2>/dev/null || echo "${i2v_json:0:300}")
    say "item2vec train text8_500k d=$dim (cuda): exit $rc $brief"
    for eval_args in "--analogy $data/questions-words.txt" "--similarity $data/ws353.txt" \
                     "--similarity $data/simlex999.txt" "--similarity $data/men.txt"; do
      eval_json=$(timeout 60 "$bundle/bin/reckon" item2vec eval --device cuda --vectors /tmp/reckon_text8_$dim.vec \
        $eval_args --json 2>>"$log")
      rc=$?
      say "  eval ${eval_args%% *} $(basename "${eval_args##* }"): exit $rc ${eval_json:0:200}"
    done
  done
  # The same training on this machine's CPU threads, side by side: Hogwild with ~17,000 warps updating hot output
  # rows is far more staleness than CPU threads see, so a GPU analogy accuracy more than 2 points below the CPU's
  # is flagged.
  accuracy() {
    timeout 60 "$bundle/bin/reckon" item2vec eval --device cpu --vectors "$1" --analogy "$data/questions-words.txt" \
      --json 2>>"$log" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("accuracy"))' 2>/dev/null
  }
  timeout 180 "$bundle/bin/reckon" item2vec train --device cpu --input "$data/text8_500k.txt" \
    --output /tmp/reckon_text8_cpu.vec --dim 100 --window 5 --negative 5 --sample 1e-3 --epochs 5 --json \
    >>"$log" 2>&1
  cpu_acc=$(accuracy /tmp/reckon_text8_cpu.vec)
  gpu_acc=$(accuracy /tmp/reckon_text8_100.vec)
  verdict=$(python3 -c "c, g = float('$cpu_acc'), float('$gpu_acc'); print('FLAG: the GPU is more than 2 points below the CPU' if g < c - 0.02 else 'ok: within 2 points of the CPU')" 2>/dev/null || echo "not compared")
  say "item2vec analogy accuracy d=100: cpu $cpu_acc, cuda $gpu_acc: $verdict"
  i2v_json=$(timeout 120 "$bundle/bin/reckon" item2vec train --device cuda --format sessions-tsv \
    --input "$data/yoochoose-clicks-100k_train_full.txt" --output /tmp/reckon_yc.vec --dim 64 --window 3 \
    --min-count 1 --epochs 10 --json 2>>"$log")
  say "item2vec train yoochoose d=64 (cuda): exit $? ${i2v_json:0:160}"
  eval_json=$(timeout 60 "$bundle/bin/reckon" item2vec eval --device cuda --vectors /tmp/reckon_yc.vec \
    --sessions "$data/yoochoose-clicks-100k_test.txt" --k 20 --json 2>>"$log")
  say "  eval next item (CPU HR@20 0.2409-0.2442): exit $? ${eval_json:0:300}"
else
  say "(the bundle carries no shared samples: item2vec on text8/YooChoose skipped)"
fi

say ""
say "==== session models end to end on the GPU ($(elapsed)s)"
# The session demo's table with GRU4Rec and the 3D CNN on the GPU (the build machine's CPU: 3D CNN HR@20 0.6493,
# GRU4Rec 0.5494; the 3D CNN trains at about 4,000 clicks/s there).
sess_json=$(timeout 240 "$bundle/bin/reckon" session demo --device cuda --out /tmp/reckon_session_demo --json 2>>"$log")
rc=$?
brief=$(echo "$sess_json" | python3 -c 'import json,sys; print("; ".join("%s HR@20 %.4f MRR@20 %.4f new %.4f train %.1fs" % (r["model"], r["metrics"]["hr@20"], r["metrics"]["mrr@20"], r["cold_targets"]["hr@20"], r["train_seconds"]) for r in json.load(sys.stdin)["results"]))' 2>/dev/null || echo "${sess_json:0:300}")
say "session demo (cuda): exit $rc $brief"

say ""
say "==== CTR end to end on the GPU ($(elapsed)s)"
# DeepFM with every default (400-400-400, batch 4096) on a synthetic log, in memory, with --tf32 and streamed from disk (pinned
# batches, asynchronous copies): samples/s and the stage profile. Then the demo's schedule for 3 epochs, whose AUC
# the build machine's CPU puts at 0.8858-0.8866 over seeds 1-3 (docs/DEVICE.md); the CPU is not run here: the
# bundle's reference BLAS would take minutes.
ctr_dir=/tmp/reckon_ctr_e2e
timeout 60 "$bundle/bin/reckon" ctr synth --rows 200000 --test 20000 --seed 7 --out "$ctr_dir" --json >>"$log" 2>&1
for mode in "" "--stream" "--tf32"; do
  ctr_json=$(timeout 120 "$bundle/bin/reckon" ctr train --model deepfm --device cuda --train "$ctr_dir/train.txt" \
    --valid "$ctr_dir/test.txt" --epochs 1 --profile $mode --json 2>>"$log")
  say "ctr train deepfm (cuda${mode:+, $mode}): exit $? ${ctr_json:0:900}"
done
ctr_json=$(timeout 120 "$bundle/bin/reckon" ctr train --model deepfm --device cuda --train "$ctr_dir/train.txt" \
  --valid "$ctr_dir/test.txt" --epochs 3 --batch 512 --lr 0.003 --hidden 200,200 --json 2>>"$log")
say "ctr train deepfm (cuda, demo schedule, 3 epochs; CPU AUC 0.8858-0.8866): exit $? ${ctr_json:0:400}"

if [ "${RECKON_DEVICE_SANITIZE:-1}" = "1" ] && command -v compute-sanitizer >/dev/null; then
  say ""
  say "==== compute-sanitizer memcheck on the kernel tests ($(elapsed)s)"
  for t in "$bundle"/tests/random_test "$bundle"/tests/launch_test "$bundle"/tests/embedding_test \
           "$bundle"/tests/skipgram_test "$bundle"/tests/topk_test; do
    [ -x "$t" ] || continue
    # The device call's limit is 540 s: leave the summary its time rather than lose it to one more check.
    if [ "$(elapsed)" -gt 420 ]; then
      say "memcheck $(basename "$t"): skipped, $(elapsed) s gone"
      continue
    fi
    timeout 90 compute-sanitizer --tool memcheck --error-exitcode 99 "$t" --gtest_brief=1 \
      --gtest_filter='*Cuda*' >>"$log" 2>&1
    rc=$?  # before the basename below, whose status would replace it
    say "memcheck $(basename "$t"): exit $rc"
  done
  # Shared-memory races and barrier misuse, in the kernels that use shared memory and warp-synchronous code (the
  # embedding backward's run reductions, FM's shuffles, SGNS's warp sums), on their smaller parity cases.
  for spec in "embedding_test:EmbeddingBackwardCuda.GradientBitwiseEqualToCpu" "fm_test:FmCuda.FusedBitwiseEqualToCpu" \
              "skipgram_test:SkipgramCuda.SequentialMatchesCpuAndHogwildLearns" "dense_test:DenseCuda.MatchesCpu"; do
    t="$bundle/tests/${spec%%:*}"
    [ -x "$t" ] || continue
    for tool in racecheck synccheck; do
      if [ "$(elapsed)" -gt 470 ]; then
        say "$tool ${spec#*:}: skipped, $(elapsed) s gone"
        continue
      fi
      timeout 60 compute-sanitizer --tool "$tool" --error-exitcode 99 "$t" --gtest_brief=1 \
        --gtest_filter="${spec#*:}" >>"$log" 2>&1
      rc=$?
      say "$tool ${spec#*:}: exit $rc"
    done
  done
fi

# Fold the per-binary JSON into two files (the device tool brings back at most 8).
python3 - "$out" <<'PY' 2>&1 | tee -a "$log" | tee "$out/summary.txt"
import glob, json, os, sys
out = sys.argv[1]
rows, totals = [], {"passed": 0, "failed": 0, "skipped": 0}
merged_tests = {}
for path in sorted(glob.glob(os.path.join(out, "tests", "*.json"))):
    name = os.path.basename(path)[:-5]
    try:
        data = json.load(open(path))
    except Exception as e:
        rows.append((name, "?", "?", "?")); continue
    merged_tests[name] = data
    p = f = s = 0
    for suite in data.get("testsuites", []):
        for case in suite.get("testsuite", []):
            if case.get("failures"):
                f += 1
            elif case.get("result") == "SKIPPED" or case.get("status") == "NOTRUN":
                s += 1
            else:
                p += 1
    rows.append((name, p, f, s))
    totals["passed"] += p; totals["failed"] += f; totals["skipped"] += s
json.dump(merged_tests, open(os.path.join(out, "tests.json"), "w"))
merged_bench = {}
bench_rows = []
for path in sorted(glob.glob(os.path.join(out, "bench", "*.json"))):
    try:
        data = json.load(open(path))
    except Exception:
        continue
    merged_bench[os.path.basename(path)[:-5]] = data
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            bench_rows.append((b["name"], "skipped/error", "", "")); continue
        gbs = b.get("bytes_per_second", 0) / 1e9
        frac = b.get("of_copy_bw")
        ratio = next((f"{k}={v:.2f}" for k, v in b.items() if k.startswith("vs_")), "")
        # The figure that matters: GB/s where bytes are counted, else the benchmark's own rate counter.
        rate = f"{gbs:.1f} GB/s" if gbs else ""
        if not rate:
            for key, unit, scale in (("FLOP/s", "TFLOP/s", 1e12), ("samples_per_s", "M samples/s", 1e6),
                                     ("words_per_s", "M words/s", 1e6), ("queries_per_s", "k queries/s", 1e3),
                                     ("rows_per_s", "M rows/s", 1e6), ("elements_per_s", "G elem/s", 1e9)):
                if key in b:
                    rate = f"{b[key] / scale:.2f} {unit}"
                    break
        bench_rows.append((b["name"], rate, f"{frac:.0%} of copy" if frac else "", ratio))
json.dump(merged_bench, open(os.path.join(out, "bench.json"), "w"))
print()
print("==== summary")
print(f"{'test binary':<24}{'passed':>8}{'failed':>8}{'skipped':>9}")
for r in rows:
    print(f"{r[0]:<24}{r[1]:>8}{r[2]:>8}{r[3]:>9}")
print(f"{'TOTAL':<24}{totals['passed']:>8}{totals['failed']:>8}{totals['skipped']:>9}")
print()
print(f"{'benchmark':<58}{'rate':>14}  {'ceiling':<14}{'baseline'}")
for r in bench_rows:
    print(f"{r[0][:58]:<58}{r[1]:>14}  {r[2]:<14}{r[3]}")
PY
rm -rf "$out/tests" "$out/bench"
say "total time $(elapsed)s"
