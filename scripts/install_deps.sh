#!/usr/bin/env bash
# Install the Debian packages reckon builds against, when missing. As root it installs them; otherwise it prints
# the exact command to run. The CUDA toolkit itself is not a Debian package here: without nvcc the build is CPU-only.
#   scripts/install_deps.sh              the packages of the build, tests, benchmarks and CLI
#   scripts/install_deps.sh PACKAGE...   those packages instead (scripts/fuzz.sh asks for clang's this way)
# Packages go in with --no-install-recommends, so each one the build uses is named here or by the caller.
set -euo pipefail

# ocl-icd-opencl-dev: Debian's oneDNN CMake package requires OpenCL's headers and loader, which libdnnl-dev only
# recommends (without it configure falls back to CBLAS and says so).
packages=(cmake ninja-build g++ make pkg-config libgtest-dev libbenchmark-dev libopenblas-dev libblas3 libdnnl-dev
          ocl-icd-opencl-dev libomp-dev libcli11-dev nlohmann-json3-dev libfmt-dev libfftw3-dev libsndfile1-dev
          libsamplerate0-dev libcairo2-dev libcpp-httplib-dev)
if [ $# -gt 0 ]; then
  packages=("$@")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  echo "reckon: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "reckon: missing packages: ${missing[*]}" >&2
  echo "install them with:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
