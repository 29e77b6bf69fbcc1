# Third-party dependencies, all from the system (Debian packages here; see scripts/install_deps.sh).
include(ReckonProbe)
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)

# A real CPU BLAS for dense layers. OpenBLAS is preferred; BLA_VENDOR can still be set by the user.
if(NOT DEFINED BLA_VENDOR)
  set(BLA_VENDOR OpenBLAS)
endif()
find_package(BLAS)
if(NOT BLAS_FOUND)
  message(FATAL_ERROR "No CPU BLAS found (BLA_VENDOR=${BLA_VENDOR}). Install libopenblas-dev (scripts/install_deps.sh).")
endif()
# CBLAS prototypes: OpenBLAS ships cblas.h; find it so kernels can include it.
find_path(RECKON_CBLAS_INCLUDE_DIR NAMES cblas.h PATH_SUFFIXES openblas openblas-pthread x86_64-linux-gnu/openblas-pthread)
if(NOT RECKON_CBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "cblas.h not found. Install libopenblas-dev (scripts/install_deps.sh).")
endif()

# oneDNN's sgemm picks its kernels from CPU features (not a table of CPU models, which misses newer parts and falls
# back to SSE3 code) and runs on the same OpenMP pool as our own loops, so the two never oversubscribe the cores.
# Its package config can be broken (Debian's requires OpenCL, a package it only recommends), and a config that
# errors stops the configure, QUIET or not: probe it in a child project first and fall back to CBLAS when it fails.
function(reckon_probe_onednn ok_var why_var)
  if(CMAKE_DISABLE_FIND_PACKAGE_dnnl)
    set(${ok_var} OFF PARENT_SCOPE)
    set(${why_var} "oneDNN disabled by CMAKE_DISABLE_FIND_PACKAGE_dnnl" PARENT_SCOPE)
    return()
  endif()
  reckon_probe(dnnl _ok _why dnnl_DIR dnnl_ROOT OpenCL_INCLUDE_DIR OpenCL_LIBRARY TBB_DIR)
  set(${ok_var} ${_ok} PARENT_SCOPE)
  if(_why MATCHES "^dnnl not found|package configuration file provided by \"dnnl\"")
    set(${why_var} "oneDNN not found" PARENT_SCOPE)
  else()
    set(${why_var} "oneDNN's CMake package failed: ${_why}" PARENT_SCOPE)
  endif()
endfunction()

set(RECKON_WITH_ONEDNN OFF)
if(RECKON_CPU_GEMM STREQUAL "AUTO" OR RECKON_CPU_GEMM STREQUAL "ONEDNN")
  reckon_probe_onednn(_reckon_onednn_usable _reckon_onednn_why)
  if(_reckon_onednn_usable)
    find_package(dnnl CONFIG QUIET)
  endif()
  if(_reckon_onednn_usable AND dnnl_FOUND)
    set(RECKON_WITH_ONEDNN ON)
    set(RECKON_CPU_GEMM_REASON "oneDNN ${dnnl_VERSION}")
  elseif(RECKON_CPU_GEMM STREQUAL "ONEDNN")
    message(FATAL_ERROR "RECKON_CPU_GEMM=ONEDNN but ${_reckon_onednn_why} "
                        "(log: ${PROJECT_BINARY_DIR}/CMakeFiles/reckon-probe-dnnl/probe.log). "
                        "Run scripts/install_deps.sh, or configure with -DRECKON_CPU_GEMM=BLAS.")
  else()
    set(RECKON_CPU_GEMM_REASON "CBLAS ${BLA_VENDOR} (${_reckon_onednn_why})")
  endif()
elseif(RECKON_CPU_GEMM STREQUAL "BLAS")
  set(RECKON_CPU_GEMM_REASON "CBLAS ${BLA_VENDOR} (RECKON_CPU_GEMM=BLAS)")
else()
  message(FATAL_ERROR "RECKON_CPU_GEMM must be AUTO, ONEDNN or BLAS, got '${RECKON_CPU_GEMM}'")
endif()

# The audio front end: FFTW (single precision) for the CPU's log-mel, libsndfile to decode WAV / FLAC / OGG,
# libsamplerate to resample. Debian ships pkg-config files for all three.
find_package(PkgConfig REQUIRED)
pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET fftw3f)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
pkg_check_modules(SAMPLERATE REQUIRED IMPORTED_TARGET samplerate)

if(RECKON_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
if(RECKON_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
if(RECKON_BUILD_APPS)
  find_package(CLI11 REQUIRED)
  find_package(nlohmann_json 3 REQUIRED)
  find_package(fmt REQUIRED)
endif()
