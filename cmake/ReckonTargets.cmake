# The library target, shared compile settings, and the helpers that kernel families, tests and benchmarks use.
include(GNUInstallDirs)

# --- Warnings (build tree only; never forced on consumers) -------------------------------------------------
add_library(reckon_warnings INTERFACE)
target_compile_options(reckon_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
if(RECKON_WERROR)
  target_compile_options(reckon_warnings INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-Werror>
    $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings -Xcompiler=-Werror>)
endif()

# --- Source locations -----------------------------------------------------------------------------------------
# Errors carry __FILE__: make it relative to the source root (runtime/error.cpp), never the builder's absolute
# path. Headers reached through the build tree's include/reckon links map to their source path too (the later,
# more specific map wins).
foreach(_map "${PROJECT_SOURCE_DIR}/=" "${PROJECT_BINARY_DIR}/include/reckon/=")
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fmacro-prefix-map=${_map}>
                      $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fmacro-prefix-map=${_map}>)
endforeach()

# --- Sanitizers (host code) ---------------------------------------------------------------------------------
if(RECKON_SANITIZE)
  string(REPLACE ";" "," _sanitizers "${RECKON_SANITIZE}")
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${_sanitizers}> $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=all>)
  add_link_options(-fsanitize=${_sanitizers})
  if(RECKON_WITH_CUDA)
    message(WARNING "RECKON_SANITIZE applies to host C++ code only; CUDA builds need ASAN_OPTIONS=protect_shadow_gap=0.")
  endif()
endif()

# --- Fuzzing (clang's libFuzzer): coverage for everything, the fuzzer's main linked into tests/fuzz targets only
if(RECKON_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "RECKON_FUZZ needs clang (libFuzzer); configure with CXX=clang++ (scripts/fuzz.sh does)")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link>)
endif()

# --- CUDA settings ------------------------------------------------------------------------------------------
if(RECKON_WITH_CUDA)
  # One CUDA runtime per program. A static library and the program it links into share the static runtime; a shared
  # libreckon and a program each linking the static one would hold two (its symbols are hidden), each with its own
  # kernel registrations and last error, so shared builds link the shared runtime everywhere.
  if(BUILD_SHARED_LIBS)
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    set(RECKON_CUDART CUDA::cudart)
  else()
    set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
    set(RECKON_CUDART CUDA::cudart_static)
  endif()
  set(CMAKE_CUDA_FLAGS "${CMAKE_CUDA_FLAGS} -lineinfo --expt-relaxed-constexpr")
endif()

# --- Public include tree ------------------------------------------------------------------------------------
# Headers live beside their sources (kernels/<family>/<family>.h); the build tree exposes them as <reckon/...>
# through links, exactly the layout that `install` produces, so user code and library code include the same paths.
set(RECKON_INCLUDE_BUILD_DIR "${PROJECT_BINARY_DIR}/include")
file(MAKE_DIRECTORY "${RECKON_INCLUDE_BUILD_DIR}/reckon")
foreach(_part runtime kernels models)
  set(_link "${RECKON_INCLUDE_BUILD_DIR}/reckon/${_part}")
  if(NOT IS_SYMLINK "${_link}")
    file(CREATE_LINK "${PROJECT_SOURCE_DIR}/${_part}" "${_link}" SYMBOLIC)
  endif()
endforeach()

# --- The library --------------------------------------------------------------------------------------------
add_library(reckon)
add_library(reckon::reckon ALIAS reckon)
set_target_properties(reckon PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
                                        CUDA_SEPARABLE_COMPILATION OFF)
target_compile_features(reckon PUBLIC cxx_std_20)
target_include_directories(reckon PUBLIC $<BUILD_INTERFACE:${RECKON_INCLUDE_BUILD_DIR}>
                                         $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_include_directories(reckon PRIVATE ${RECKON_CBLAS_INCLUDE_DIR})
# CPU kernels that promise bitwise parity with CUDA write their fused multiply-adds explicitly (fmaf); nothing else
# may be fused behind their back, whatever -march the user passes.
# -fno-math-errno: sqrtf stays one instruction (IEEE sqrt is correctly rounded either way) and loops using it vectorise.
target_compile_options(reckon PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off -fno-math-errno>)
target_link_libraries(reckon PUBLIC Threads::Threads PRIVATE OpenMP::OpenMP_CXX BLAS::BLAS PkgConfig::FFTW3F
                                    PkgConfig::SNDFILE PkgConfig::SAMPLERATE $<BUILD_INTERFACE:reckon_warnings>)
if(RECKON_WITH_ONEDNN)
  target_link_libraries(reckon PRIVATE DNNL::dnnl)
endif()
if(RECKON_WITH_CUDA)
  target_link_libraries(reckon PRIVATE ${RECKON_CUDART} CUDA::cublas CUDA::cufft)
  if(RECKON_WITH_CUDNN)
    target_link_libraries(reckon PRIVATE CUDNN::cudnn)
  endif()
endif()

# reckon_kernel_family(<name> SOURCES <cpu .cpp> CUDA_SOURCES <.cu>)
# Adds a family's sources to the library. Its test (tests/kernels/<name>_test.cpp) and benchmark
# (bench/kernels/<name>_bench.cpp) are picked up by name, so a new family needs one line in kernels/CMakeLists.txt.
function(reckon_kernel_family name)
  cmake_parse_arguments(ARG "" "" "SOURCES;CUDA_SOURCES" ${ARGN})
  target_sources(reckon PRIVATE ${ARG_SOURCES})
  if(RECKON_WITH_CUDA)
    target_sources(reckon PRIVATE ${ARG_CUDA_SOURCES})
  endif()
  set_property(GLOBAL APPEND PROPERTY RECKON_KERNEL_FAMILIES ${name})
endfunction()
