#!/bin/sh
# copy-libraries.sh BINARY DEST_DIR
#
# Copies the shared libraries BINARY loads into DEST_DIR, except the C and C++ runtimes every base
# image and every Linux with a GPU driver has (and the driver itself). Used to stage the container
# images (stage.sh) and the GPU-check bundle (scripts/gpu-bundle.sh). Fails, naming them, when a
# library cannot be resolved.
set -eu
if [ $# -ne 2 ]; then
  echo "usage: copy-libraries.sh BINARY DEST_DIR" >&2
  exit 2
fi
missing=$(ldd "$1" | awk '/not found/ && $1 !~ /^libcuda\.so/ {print $1}')
if [ -n "$missing" ]; then
  echo "copy-libraries.sh: $1 needs libraries that are not installed: $missing" >&2
  exit 1
fi
ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do
  case $(basename "$lib") in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|ld-linux*|libstdc++.so.*|libgcc_s.so.*|libcuda.so.*) ;;
    *) cp -L "$lib" "$2/" ;;
  esac
done
