#!/usr/bin/env bash
# Installs the Debian packages gpupool builds and tests with. Idempotent: packages that are already
# installed are left alone, and nothing is downloaded when everything is present.
# The CUDA 13 toolkit (/usr/local/cuda) is not a Debian package and is not installed here; without
# nvcc the CUDA test programs are skipped (CMake says so).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcpprest-dev libboost-dev nlohmann-json3-dev catch2 libssl-dev
  # The operator reads kubeconfig files (YAML).
  libyaml-cpp-dev
  # zstd and LZ4: the emulated device decompresses compressed fatbin entries (remoting/server/emulated).
  libzstd-dev liblz4-dev
  clang clang-format libclang-rt-dev ccache
  python3 python3-grpcio python3-kubernetes python3-yaml python3-jsonschema
  # The chart checks (tests/deploy) render the Helm chart with a small Go renderer when helm is absent.
  golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev golang-gopkg-yaml.v3-dev
)

# The fake API server's checks (tests/operator) also drive kubectl. Debian's kubernetes-client would
# conflict with a kubectl installed some other way, so it is only wanted when none is on PATH.
if ! command -v kubectl >/dev/null 2>&1; then packages+=(kubernetes-client); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
