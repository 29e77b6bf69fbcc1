#!/usr/bin/env bash
# Fuzz the readers of user files (tests/fuzz) with libFuzzer under AddressSanitizer and UBSan.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 seconds, every target)
#
# Builds a CPU-only clang build in build-fuzz/, then runs each target for the given time, starting from its
# checked-in corpus (tests/fuzz/corpus/<target>) and writing new coverage to build-fuzz/corpus/<target>. A crash,
# sanitizer report, leak, or an exception other than reckon::Error stops the run; the input that caused it is in
# build-fuzz/findings/<target>/. Fix the bug, then add the input to tests/fuzz/corpus/<target>/ so every build
# replays it (CTest fuzz_corpus.<target>).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
# The build's packages, then clang with libFuzzer's runtime and its OpenMP (as root installed, else the command).
scripts/install_deps.sh
scripts/install_deps.sh clang libclang-rt-14-dev libomp-dev
clangxx=$(command -v clang++ || command -v clang++-14 || true)
clangc=$(command -v clang || command -v clang-14 || true)
if [[ -z "$clangxx" ]]; then
  echo "fuzz.sh: clang++ (with libFuzzer) is needed: apt-get install clang libclang-rt-14-dev libomp-dev" >&2
  exit 2
fi
build=build-fuzz
CC=$clangc CXX=$clangxx cmake -S . -B "$build" -G Ninja -DRECKON_CUDA=OFF -DRECKON_FUZZ=ON \
  -DRECKON_SANITIZE=address,undefined -DRECKON_BUILD_BENCHMARKS=OFF -DRECKON_BUILD_APPS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(ctr_rows_fuzz ctr_schema_fuzz ctr_movielens_fuzz item2vec_files_fuzz checkpoint_fuzz)
fi
cmake --build "$build" --target "${targets[@]}"
status=0
for target in "${targets[@]}"; do
  mkdir -p "$build/corpus/$target" "$build/findings/$target"
  echo "== $target: ${seconds} s"
  # rss and malloc limits: an allocation sized by a number in the input (not by the input's length) is a bug.
  if ! "$build/fuzz/$target" "$build/corpus/$target" "tests/fuzz/corpus/$target" -max_total_time="$seconds" \
      -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=4096 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$build/findings/$target/" 2>"$build/findings/$target.log"; then
    status=1
    echo "   FOUND a failure: $(ls -t "$build/findings/$target" | head -1) (log: $build/findings/$target.log)"
    grep -m3 -E "ERROR|escaped|runtime error" "$build/findings/$target.log" | sed 's/^/   /' || true
  else
    grep -E "stat::number_of_executed_units|cov:" "$build/findings/$target.log" | tail -1 | sed 's/^/   /'
  fi
done
exit $status
