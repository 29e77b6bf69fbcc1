#!/usr/bin/env bash
# Every program a build made (tests, benchmarks, the CLI) holds at most one CUDA runtime: either the static one
# linked into it (or into a static libreckon it embeds), or the shared libcudart it and libreckon.so load, never
# both and never a static copy in the executable beside one in libreckon.so. Two runtimes in one process each keep
# their own kernel registrations and last error, so a kernel of one fails to launch or goes unchecked in the other.
#   tests/cmake/one_cuda_runtime.sh BUILD_DIR
set -euo pipefail
build=$1
static_runtime() { nm "$1" 2>/dev/null | grep -E ' [tT] cudaGetLastError$' >/dev/null; }
checked=0 failed=0
for exe in "$build"/tests/* "$build"/bench/* "$build"/bin/*; do
  [[ -f "$exe" && -x "$exe" && "$(head -c 4 "$exe" | tail -c 3)" == "ELF" ]] || continue
  runtimes=()
  static_runtime "$exe" && runtimes+=("static in $(basename "$exe")")
  while read -r name path; do
    case "$name" in
      libcudart.so*) runtimes+=("shared $name") ;;
      libreckon.so*) static_runtime "$path" && runtimes+=("static in $name") ;;
    esac
  done < <(ldd "$exe" | awk '/=> \//{print $1" "$3}')
  checked=$((checked + 1))
  if [[ ${#runtimes[@]} -gt 1 ]]; then
    failed=$((failed + 1))
    echo "$(basename "$exe"): ${#runtimes[@]} CUDA runtimes: ${runtimes[*]:-none}"
  fi
done
echo "$checked programs checked, $failed with more than one CUDA runtime"
[[ $checked -gt 0 && $failed -eq 0 ]]
