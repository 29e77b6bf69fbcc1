# Configure reckon (CPU-only, library alone) with an optional dependency broken or absent, and check that configure
# still succeeds and its summary says why the fallback was taken; and that asking for the dependency fails clearly.
#   cmake -DSOURCE=<root> -DWORK=<dir> -DGENERATOR=<generator> -P configure_test.cmake
cmake_minimum_required(VERSION 3.24)

function(configure_reckon name expect_rc expect_regex)
  set(_build "${WORK}/${name}")
  file(REMOVE_RECURSE "${_build}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE}" -B "${_build}" -G "${GENERATOR}" -DRECKON_CUDA=OFF
                          -DRECKON_BUILD_TESTS=OFF -DRECKON_BUILD_BENCHMARKS=OFF -DRECKON_BUILD_APPS=OFF ${ARGN}
                  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  set(_all "${_out}${_err}")
  string(REGEX REPLACE "\n[ \t]*" " " _flat "${_all}")
  if(expect_rc EQUAL 0 AND NOT _rc EQUAL 0)
    message(FATAL_ERROR "${name}: configure failed (exit ${_rc}):\n${_all}")
  elseif(NOT expect_rc EQUAL 0 AND _rc EQUAL 0)
    message(FATAL_ERROR "${name}: configure succeeded but should have failed:\n${_all}")
  endif()
  if(NOT _flat MATCHES "${expect_regex}")
    message(FATAL_ERROR "${name}: the output does not match '${expect_regex}':\n${_all}")
  endif()
  message(STATUS "${name}: ok")
  file(REMOVE_RECURSE "${_build}")
endfunction()

set(_broken "-Ddnnl_DIR=${SOURCE}/tests/cmake/broken_dnnl")
configure_reckon(broken_dnnl 0 "CPU GEMM +: CBLAS [A-Za-z]* ?\\(oneDNN's CMake package failed: OpenCL not found" ${_broken})
configure_reckon(disabled_dnnl 0 "CPU GEMM +: CBLAS [A-Za-z]* ?\\(oneDNN disabled by CMAKE_DISABLE_FIND_PACKAGE_dnnl\\)"
                 -DCMAKE_DISABLE_FIND_PACKAGE_dnnl=ON)
configure_reckon(required_broken_dnnl 1 "RECKON_CPU_GEMM=ONEDNN but oneDNN's CMake package failed: OpenCL not found"
                 ${_broken} -DRECKON_CPU_GEMM=ONEDNN)
configure_reckon(missing_nvcc 0 "CUDA +: OFF \\(RECKON_CUDA=AUTO and CMAKE_CUDA_COMPILER=/nonexistent/nvcc does not exist\\)"
                 -DRECKON_CUDA=AUTO -DCMAKE_CUDA_COMPILER=/nonexistent/nvcc)
configure_reckon(broken_nvcc 0 "CUDA +: OFF \\(RECKON_CUDA=AUTO and [^ ]*broken_nvcc failed the CUDA probe: the CUDA compiler does not compile a test file"
                 -DRECKON_CUDA=AUTO -DCMAKE_CUDA_COMPILER=${SOURCE}/tests/cmake/broken_nvcc)
configure_reckon(required_broken_nvcc 1 "RECKON_CUDA=ON but [^ ]*broken_nvcc failed the CUDA probe"
                 -DRECKON_CUDA=ON -DCMAKE_CUDA_COMPILER=${SOURCE}/tests/cmake/broken_nvcc)
