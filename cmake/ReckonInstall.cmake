# Install the library, its public headers and a CMake package: find_package(reckon CONFIG REQUIRED) gives reckon::reckon.
include(CMakePackageConfigHelpers)

install(TARGETS reckon EXPORT reckonTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# Public headers are the *.h files outside detail/ folders; *.cuh, detail/ and each kernel family's *_impl.h
# (launch arguments) and *_math.h (arithmetic shared by its CPU and CUDA code) stay private to the build.
foreach(_part runtime kernels models)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${_part}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/reckon/${_part}
          FILES_MATCHING PATTERN "*.h" PATTERN "detail" EXCLUDE PATTERN "*_impl.h" EXCLUDE PATTERN "*_math.h" EXCLUDE)
endforeach()
install(FILES ${RECKON_INCLUDE_BUILD_DIR}/reckon/config.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/reckon)

set(_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/reckon)
install(EXPORT reckonTargets NAMESPACE reckon:: DESTINATION ${_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/reckonConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/reckonConfig.cmake INSTALL_DESTINATION ${_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/reckonConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/reckonConfig.cmake ${PROJECT_BINARY_DIR}/reckonConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindCUDNN.cmake
        DESTINATION ${_cmake_dir})
