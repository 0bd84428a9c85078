# Build options. Each one is documented in README.md ("Build options").
option(GPUPOOL_SANITIZE "Build everything with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(GPUPOOL_FUZZ "Build the libFuzzer targets (needs clang)" OFF)
option(GPUPOOL_WERROR "Treat compiler warnings as errors" ON)
set(GPUPOOL_CUDA_HOME "/usr/local/cuda" CACHE PATH "CUDA toolkit root: cuda.h is required, nvcc is optional")

find_program(GPUPOOL_CCACHE ccache)
if(GPUPOOL_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${GPUPOOL_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${GPUPOOL_CCACHE})
endif()

if(GPUPOOL_SANITIZE)
  set(_gpupool_san -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_compile_options(${_gpupool_san})
  add_link_options(${_gpupool_san})
  # GCC 12 with AddressSanitizer reports -Wmaybe-uninitialized false positives inside libstdc++
  # (<regex> through Catch2, <functional>), which -Werror turns into build failures.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
endif()
