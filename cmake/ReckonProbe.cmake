# reckon_probe(<name> <ok_var> <why_var> [VARIABLE...])
# Configures the child project cmake/probes/<name> with the same generator and compilers, and the values of the
# named variables (those defined) plus the prefix paths. An optional dependency whose package config or compiler
# errors out stops a configure outright, so AUTO options try it here first and fall back when it fails. <why_var>
# gets a one-line cause ("OpenCL not found", the first line of CMake's error); the summary names the full log.
include_guard(GLOBAL)

function(reckon_probe name ok_var why_var)
  set(_dir "${PROJECT_BINARY_DIR}/CMakeFiles/reckon-probe-${name}")
  file(REMOVE_RECURSE "${_dir}")
  # Values go through an initial-cache script, so lists (CMAKE_CUDA_ARCHITECTURES) arrive whole.
  set(_cache "")
  foreach(_var CMAKE_CXX_COMPILER CMAKE_PREFIX_PATH CMAKE_FIND_ROOT_PATH ${ARGN})
    if(DEFINED ${_var})
      string(APPEND _cache "set(${_var} [==[${${_var}}]==] CACHE STRING \"\")\n")
    endif()
  endforeach()
  file(WRITE "${_dir}-cache.cmake" "${_cache}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -C "${_dir}-cache.cmake" -S "${PROJECT_SOURCE_DIR}/cmake/probes/${name}"
                          -B "${_dir}" -G "${CMAKE_GENERATOR}"
                  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  if(_rc EQUAL 0)
    set(${ok_var} ON PARENT_SCOPE)
    set(${why_var} "" PARENT_SCOPE)
    return()
  endif()
  file(WRITE "${_dir}/probe.log" "${_out}\n${_err}")
  if(_err MATCHES "Could NOT find ([^ \n]+)")
    set(_cause "${CMAKE_MATCH_1} not found")
  elseif(_out MATCHES "The ([A-Za-z+]+) compiler identification is unknown")
    set(_cause "the ${CMAKE_MATCH_1} compiler does not compile a test file")
  else()
    # The first line of text after "CMake Error ...:".
    string(REGEX MATCH "CMake Error[^\n]*\n[ \t\n]*([^\n]+)" _first "${_err}")
    string(STRIP "${CMAKE_MATCH_1}" _cause)
    if(_cause STREQUAL "")
      set(_cause "configure failed (exit ${_rc})")
    endif()
  endif()
  set(${ok_var} OFF PARENT_SCOPE)
  set(${why_var} "${_cause}" PARENT_SCOPE)
  set_property(GLOBAL APPEND PROPERTY RECKON_FAILED_PROBES "${name}: ${_dir}/probe.log")
endfunction()
