# Every third-party dependency is found here, once. All of them are Debian packages installed by
# scripts/install-deps.sh, except the CUDA toolkit headers (and the optional nvcc).
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(cpprestsdk CONFIG REQUIRED)
# Boost.Beast (header-only, libboost-dev): the operator's HTTP(S) server (operator/http) and its tests.
find_package(Boost 1.74 CONFIG REQUIRED)
add_library(gpupool_beast INTERFACE)
target_link_libraries(gpupool_beast INTERFACE Boost::headers OpenSSL::SSL Threads::Threads)
# GCC 12 reports a possible null dereference inside Boost.Asio's scheduler once it is inlined into our
# code (boost/asio/detail/impl/scheduler.ipp); the warning ignores that the code is a system header's.
target_compile_options(gpupool_beast INTERFACE -Wno-null-dereference)
# cpprestsdk's U() macro breaks Boost's templates (boost/core/noinit_adaptor.hpp) in a file that
# includes both; this is cpprestsdk's documented switch for it.
target_compile_definitions(gpupool_beast INTERFACE _TURN_OFF_PLATFORM_STRING)
find_package(nlohmann_json 3.10 CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)  # kubeconfig files (operator/kube)
find_package(Catch2 2 CONFIG REQUIRED)
find_program(GPUPOOL_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
# zstd (libzstd-dev) and LZ4 (liblz4-dev): decompress compressed fatbin entries in the emulated device's
# module loader.
find_package(PkgConfig REQUIRED)
pkg_check_modules(GPUPOOL_ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(GPUPOOL_LZ4 REQUIRED IMPORTED_TARGET liblz4)

# cuda.h and cudaTypedefs.h describe the driver ABI the client exports and the server calls; nothing
# links against a CUDA library (the server loads libcuda.so.1 at run time).
find_path(GPUPOOL_CUDA_INCLUDE_DIR cuda.h
  HINTS ${GPUPOOL_CUDA_HOME}/include $ENV{CUDA_HOME}/include /usr/local/cuda/include)
if(NOT GPUPOOL_CUDA_INCLUDE_DIR)
  message(FATAL_ERROR "cuda.h not found: install the CUDA 13 toolkit headers or pass -DGPUPOOL_CUDA_HOME=<dir>")
endif()
file(STRINGS ${GPUPOOL_CUDA_INCLUDE_DIR}/cuda.h _cuda_version_line REGEX "^#define CUDA_VERSION [0-9]+")
string(REGEX REPLACE "^#define CUDA_VERSION ([0-9]+).*" "\\1" GPUPOOL_CUDA_HEADER_VERSION "${_cuda_version_line}")
if(GPUPOOL_CUDA_HEADER_VERSION LESS 13000)
  message(FATAL_ERROR "cuda.h in ${GPUPOOL_CUDA_INCLUDE_DIR} is version ${GPUPOOL_CUDA_HEADER_VERSION}; gpupool needs CUDA 13")
endif()
add_library(gpupool_cuda_headers INTERFACE)
# SYSTEM: NVIDIA's headers are not held to our warning flags.
target_include_directories(gpupool_cuda_headers SYSTEM INTERFACE ${GPUPOOL_CUDA_INCLUDE_DIR})
message(STATUS "gpupool: CUDA headers ${GPUPOOL_CUDA_INCLUDE_DIR} (CUDA_VERSION ${GPUPOOL_CUDA_HEADER_VERSION})")
