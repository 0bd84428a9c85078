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

if(GPUPOOL_FUZZ)
  # Coverage feedback and sanitizers for all code, so the libraries under test (gpupool_protocol)
  # are instrumented too; only the fuzz targets link libFuzzer itself (-fsanitize=fuzzer).
  set(_gpupool_fuzz_san -fsanitize=address,undefined -fno-sanitize-recover=undefined)
  add_compile_options(-fsanitize=fuzzer-no-link ${_gpupool_fuzz_san} -fno-omit-frame-pointer)
  add_link_options(${_gpupool_fuzz_san})
endif()
