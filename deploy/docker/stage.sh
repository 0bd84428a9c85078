#!/bin/sh
# stage.sh BUILD_DIR OUT_DIR COMPONENT...
#
# Lays out what each runtime image needs under OUT_DIR/<component>/, as a root file system overlay the
# Dockerfile copies in one step: executables in usr/local/bin, the shared libraries they load (except
# the C and C++ runtimes, which every base image has) in usr/lib/gpupool, and for the device plugin the
# client libraries in opt/gpupool/lib. Components: operator, device-plugin, server, cli.
# Fails, naming it, when an executable is missing or a library cannot be resolved.
set -eu

if [ $# -lt 3 ]; then
  echo "usage: stage.sh BUILD_DIR OUT_DIR COMPONENT..." >&2
  exit 2
fi
build=$1
out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)

# Copies executable $2 (a path under BUILD_DIR/bin) into component $1's image.
stage_binary() {
  if [ ! -x "$build/bin/$2" ]; then
    echo "stage.sh: $build/bin/$2 was not built" >&2
    exit 1
  fi
  mkdir -p "$out/$1/usr/local/bin" "$out/$1/usr/lib/gpupool"
  cp "$build/bin/$2" "$out/$1/usr/local/bin/"
  "$here/copy-libraries.sh" "$build/bin/$2" "$out/$1/usr/lib/gpupool"
}

for component in "$@"; do
  case $component in
    operator) stage_binary operator gpupool-operator ;;
    cli) stage_binary cli gpupool ;;
    server)
      # The broker and any helper it starts (workers, the inventory child) ship together.
      found=0
      for f in "$build"/bin/gpupool-server*; do
        [ -x "$f" ] || continue
        stage_binary server "$(basename "$f")"
        found=1
      done
      [ $found = 1 ] || { echo "stage.sh: $build/bin/gpupool-server was not built" >&2; exit 1; }
      ;;
    device-plugin)
      stage_binary device-plugin gpupool-device-plugin
      mkdir -p "$out/device-plugin/opt/gpupool/lib"
      if [ ! -e "$build/lib/libcuda.so.1" ]; then
        echo "stage.sh: the client library $build/lib/libcuda.so.1 was not built" >&2
        exit 1
      fi
      for lib in libcuda.so.1 libnvidia-ml.so.1; do
        [ -e "$build/lib/$lib" ] || continue
        cp -L "$build/lib/$lib" "$out/device-plugin/opt/gpupool/lib/$lib"
        "$here/check-client-abi.sh" "$out/device-plugin/opt/gpupool/lib/$lib"
        # The unversioned name as well, as NVIDIA's container toolkit provides it: what links against
        # the driver when the program runs needs it (Triton, behind torch.compile, builds its kernel
        # launcher with -lcuda).
        ln -sf "$lib" "$out/device-plugin/opt/gpupool/lib/${lib%.1}"
      done
      ;;
    *) echo "stage.sh: unknown component \"$component\" (operator, device-plugin, server, cli)" >&2; exit 2 ;;
  esac
  echo "stage.sh: $component staged in $out/$component"
done
