# A oneDNN package config that errors out as Debian's does without OpenCL's headers (tests/cmake/configure_test.cmake).
message(FATAL_ERROR "Could NOT find OpenCL (missing: OpenCL_LIBRARY OpenCL_INCLUDE_DIR)")
