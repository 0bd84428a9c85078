# CUDA test programs (tests/cuda, examples) are compiled with nvcc when it is present. Without nvcc the
# build still succeeds; every test that needs such a program is registered as a ctest that reports
# SKIPPED with the reason, so the gap is visible in every test run.
option(GPUPOOL_NVCC "Build CUDA test programs with nvcc when it is found" ON)
set(GPUPOOL_HAVE_NVCC OFF)
if(GPUPOOL_NVCC)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # 90 = H200/H100, the GPU the conformance runs use; the emulated device reports 9.0 too.
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    set(GPUPOOL_HAVE_NVCC ON)
  endif()
endif()
if(GPUPOOL_HAVE_NVCC)
  message(STATUS "gpupool: nvcc ${CMAKE_CUDA_COMPILER_VERSION} found: CUDA test programs are built")
else()
  set(GPUPOOL_NO_NVCC_REASON "nvcc not found (or -DGPUPOOL_NVCC=OFF): CUDA test programs are not built and their tests report SKIPPED")
  message(WARNING "gpupool: ${GPUPOOL_NO_NVCC_REASON}")
endif()

# gpupool_skipped_test(<name> <reason>): a ctest that always reports SKIPPED with <reason>.
function(gpupool_skipped_test name reason)
  add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} -E echo "SKIPPED: ${reason}")
  set_tests_properties(${name} PROPERTIES SKIP_REGULAR_EXPRESSION "SKIPPED:")
endfunction()
