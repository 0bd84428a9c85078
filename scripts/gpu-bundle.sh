#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs from a build into one folder that can travel to a GPU machine
# which lacks this project's build dependencies (gRPC, Protobuf, cpprestsdk, yaml-cpp, zstd): the
# binaries and the client, stripped, the project's CUDA test programs, and the shared libraries the
# binaries load that a CUDA machine's base image may not have (deps/). The C library family,
# libstdc++ and the GPU driver are left to that machine: a newer one runs what was built here.
#
#   scripts/gpu-bundle.sh [BUILD_DIR] [BUNDLE_DIR]      defaults: build  build-gpu-bundle
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bundle=${2:-build-gpu-bundle}
[ -x "$build/bin/gpupool-server" ] && [ -f "$build/lib/libcuda.so.1" ] || {
  echo "gpu-bundle: $build has no gpupool-server or lib/libcuda.so.1: build first (cmake --build $build)" >&2
  exit 1
}
rm -rf "$bundle"
mkdir -p "$bundle"/{bin,lib,deps,tests/driver,tests/runtime}

binaries=(gpupool gpupool-server gpupool-bench gpupool-device-query gpupool-compute-bound gpupool-share-bench)
for b in "${binaries[@]}"; do
  if [ -x "$build/bin/$b" ]; then
    strip -o "$bundle/bin/$b" "$build/bin/$b"
  else
    echo "gpu-bundle: $build/bin/$b is not built; gpu-check.sh will skip what needs it" >&2
  fi
done
strip -o "$bundle/lib/libcuda.so.1" "$build/lib/libcuda.so.1"
ln -s libcuda.so.1 "$bundle/lib/libcuda.so"
# gpupool's NVML (NCCL needs it) and its probe, which compares it with the CUDA driver in one process.
if [ -f "$build/lib/libnvidia-ml.so.1" ]; then
  strip -o "$bundle/lib/libnvidia-ml.so.1" "$build/lib/libnvidia-ml.so.1"
  mkdir -p "$bundle/tests/nvml"
  strip -o "$bundle/tests/nvml/nvml_probe" "$build/tests/remoting/client/nvml/nvml_probe"
fi

# The project's CUDA test programs (built by nvcc; absent without it). Programs are stripped of their
# symbols and debug information (their kernels are in loaded sections, which strip keeps), halving them
# so that the bundle fits what the GPU machine is sent; their inputs (cubins, fatbins, PTX) are copied.
for f in "$build"/tests/cuda/driver/driver_* "$build"/tests/cuda/driver/link_* "$build"/tests/cuda/runtime/*_static "$build"/tests/cuda/runtime/*_shared; do
  [ -f "$f" ] || continue
  case "$f" in
    */driver/*) to="$bundle/tests/driver/" ;;
    *) to="$bundle/tests/runtime/" ;;
  esac
  if [ -x "$f" ]; then strip -o "$to$(basename "$f")" "$f"; else cp "$f" "$to"; fi
done

# Shared libraries of the binaries, less those every Linux with a GPU driver has.
for b in "$bundle"/bin/*; do deploy/docker/copy-libraries.sh "$b" "$bundle/deps"; done
du -sh "$bundle"
echo "gpu-bundle: $bundle is ready; on the GPU machine: scripts/gpu-check.sh --bundle $bundle"
