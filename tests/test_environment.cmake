# Read by ctest (TEST_INCLUDE_FILES): the environment every test process inherits, unless the caller set it.
if(NOT DEFINED ENV{OMP_WAIT_POLICY})
  set(ENV{OMP_WAIT_POLICY} passive)
endif()
if(NOT DEFINED ENV{OPENBLAS_NUM_THREADS})
  set(ENV{OPENBLAS_NUM_THREADS} 1)
endif()
