#!/usr/bin/env bash
# The main job, from a fresh checkout on a fresh machine: installs the Debian packages, builds, and
# runs an unmodified CUDA driver-API program (build/bin/gpupool-device-query) through `gpupool run`.
# With no --server, `gpupool run` starts a local gpupool-server: the real GPU when this machine has
# one, the emulated device otherwise, and says which.
#
#   scripts/quickstart.sh                        # local server
#   scripts/quickstart.sh --server gpu-01:7470   # a gpupool-server elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)" --target gpupool gpupool-server gpupool_client gpupool-device-query
exec build/bin/gpupool run "$@" -- build/bin/gpupool-device-query
