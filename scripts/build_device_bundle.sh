#!/usr/bin/env bash
# Build, here, the binaries that scripts/device_check.sh runs on the GPU machine, and gather what they need.
#
# The GPU machine has nvcc, CMake and ninja but no GoogleTest, Google Benchmark, OpenBLAS or Debian packages, so the
# tests and benchmarks are built on this machine (Release, machine code for sm_90) and carried over in .device/
# (ignored by git). cuBLAS and cuDNN are not carried (hundreds of MB): device_check.sh finds them there. The
# library is built shared so the dozen test and benchmark programs share one copy of the kernels.
#
#   scripts/build_device_bundle.sh          then call the device tool with
#   run(command="bash scripts/device_check.sh", carry=[".device"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/.."

build=build-device
bundle=.device/bundle
scripts/install_deps.sh
# The CPU BLAS is linked by soname (libblas.so.3) and the bundle carries the reference BLAS (450 KB, libc only):
# OpenBLAS with its Fortran runtime would not fit the 64 MiB carry limit, and the GPU checks do not time the CPU.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRECKON_CUDA=ON -DBLA_VENDOR=Generic -DRECKON_CPU_GEMM=BLAS -DBUILD_SHARED_LIBS=ON \
      -DCMAKE_CUDA_ARCHITECTURES="75-virtual;90-real" \
      -DCMAKE_EXE_LINKER_FLAGS="-Wl,--as-needed" >/dev/null
cmake --build "$build" -j "$(nproc)"

rm -rf "$bundle"
mkdir -p "$bundle/tests" "$bundle/bench" "$bundle/bin" "$bundle/lib"
cp "$build"/tests/*_test "$bundle/tests/"
cp "$build"/bench/*_bench "$bundle/bench/"
cp "$build"/bin/reckon "$bundle/bin/"

# Shared libraries the binaries load that the GPU machine's image may lack. The C library, the C++ runtime (the
# GPU image's is newer) and the CUDA driver and libraries stay behind.
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so|libcuda\.so|libcublas|libcublasLt|libcudnn|libcurand|libcufft|libblas|libopenblas|libgfortran|libquadmath)'
for f in "$bundle"/tests/* "$bundle"/bench/* "$bundle"/bin/*; do
  ldd "$f" | awk '/=> \//{print $1" "$3}'
done | sort -u | while read -r name path; do
  if ! [[ "$name" =~ $skip ]]; then
    cp -L "$path" "$bundle/lib/$name"
  fi
done
reference_blas=/usr/lib/x86_64-linux-gnu/blas/libblas.so.3
if [ -f "$reference_blas" ]; then
  cp -L "$reference_blas" "$bundle/lib/libblas.so.3"
else
  echo "warning: $reference_blas not found (Debian's libblas3); the bundle has no CPU BLAS" >&2
fi
# The shared text and session samples (about 6 MB), for item2vec quality on the GPU against the CPU's figures in
# docs/ITEM2VEC.md. Carried in the ignored bundle only: ../shared files are never committed.
shared=../shared/data
if [ -d "$shared" ]; then
  mkdir -p "$bundle/data"
  for f in text/text8_500k.txt text/questions-words.txt text/ws353.txt text/simlex999.txt text/men.txt \
           sessions/yoochoose-clicks-100k_train_full.txt sessions/yoochoose-clicks-100k_test.txt; do
    if [ -f "$shared/$f" ]; then cp "$shared/$f" "$bundle/data/"; fi
  done
fi
git rev-parse --short HEAD > "$bundle/COMMIT" 2>/dev/null || echo unknown > "$bundle/COMMIT"
du -sh "$bundle"
ls "$bundle/lib"
