#!/usr/bin/env bash
# `make compare`: reckon beside the tools a user would otherwise pick, on the same data and settings, in one run.
# Installs the peers (Debian's python3-torch and python3-gensim; as root, or prints the command), then runs the
# comparisons, printing each table and writing its JSON under build/compare/. Not part of make test or CI: it takes
# minutes (the CTR comparison trains eight models on a 1M-row log).
#   COMPARE_ROWS   training rows of the generated CTR log (1000000; 200000 held out per 1000000)
#   COMPARE_ONLY   ctr, kernels, item2vec, sessions, content, torch or a comma-separated subset (all six); torch
#                  (reckon's PyTorch operators) needs `make python` first
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${BUILD_DIR:-build}"
# Debian's interpreter: the one the packages below install into (a python3 earlier on PATH may be another).
python="${PYTHON:-/usr/bin/python3}"
scripts/install_deps.sh python3 python3-numpy python3-torch python3-gensim
rows="${COMPARE_ROWS:-1000000}"
only="${COMPARE_ONLY:-ctr,kernels,item2vec,sessions,content,torch}"
out="$build/compare"
mkdir -p "$out"
echo "reckon side by side, $(date -u +%Y-%m-%d), $(nproc) CPUs:$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
if [[ ",$only," == *",ctr,"* ]]; then
  "$python" bench/peers/ctr_compare.py --reckon "$build/bin/reckon" --synth "$rows" --test $((rows / 5)) \
    --out "$out/ctr" --json-out "$out/ctr.json"
fi
if [[ ",$only," == *",kernels,"* ]]; then
  "$python" bench/peers/kernels_compare.py --build "$build" --json-out "$out/kernels.json"
fi
if [[ ",$only," == *",item2vec,"* ]]; then
  if [ -d ../shared/data ]; then
    "$python" bench/peers/item2vec_compare.py --reckon "$build/bin/reckon" --out "$out/item2vec" \
      --json-out "$out/item2vec.json"
  else
    echo "item2vec: ../shared/data is missing (the comparison uses its text8 and YooChoose samples): skipped"
  fi
fi
if [[ ",$only," == *",sessions,"* ]]; then
  if [ -d ../shared/data ]; then
    "$python" bench/peers/session_compare.py --reckon "$build/bin/reckon" --json-out "$out/sessions.json"
  else
    echo "sessions: ../shared/data is missing (the comparison uses its YooChoose sample): skipped"
  fi
fi
if [[ ",$only," == *",content,"* ]]; then
  "$python" bench/peers/content_compare.py --reckon "$build/bin/reckon" --json-out "$out/content.json"
fi
if [[ ",$only," == *",torch,"* ]]; then
  if [ -f "$build/python/libreckon_torch.so" ] && [ -x "$build/python/reckon_torch_overhead" ]; then
    "$python" bench/peers/torch_ops_compare.py --build "$build" --json-out "$out/torch_ops.json"
  else
    echo "torch: $build/python/libreckon_torch.so is missing (make python builds it): skipped"
  fi
fi
