#!/usr/bin/env bash
# Runs every gpupool test, from a fresh checkout on a fresh machine: installs the Debian packages,
# configures, builds and runs ctest. This is what CI runs (.ci/run).
#
#   scripts/test.sh              # build/ , RelWithDebInfo
#   scripts/test.sh --sanitize   # build-asan/ , AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/test.sh -- -R operator   # arguments after -- go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=()
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) build_dir=build-asan; cmake_args+=(-DGPUPOOL_SANITIZE=ON) ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "usage: scripts/test.sh [--sanitize] [-- CTEST_ARGS...]" >&2; exit 2 ;;
  esac
  shift
done

./scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${cmake_args[@]}"
cmake --build "$build_dir" -j "$jobs"
# Sanitizer runs: fail on the first report, and keep leak checking on (it is the point). Allocation
# stacks are unwound fully (slower) because OpenSSL has no frame pointers: the suppressions in
# tests/sanitizers/lsan.supp name OpenSSL functions that a fast unwind never reaches.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/sanitizers/lsan.supp}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$PWD/tests/sanitizers/ubsan.supp}"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 600 "${ctest_args[@]}"
