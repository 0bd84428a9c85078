#!/bin/sh
# check-client-abi.sh LIBRARY [MAX_GLIBC]
#
# The client libraries are mounted into other people's containers (a PyTorch image on Ubuntu 22.04,
# a RHEL 9 UBI image, ...), so they must load there: they may need only the C library up to version
# MAX_GLIBC (default 2.34, RHEL 9's; Ubuntu 22.04 has 2.35) and nothing else that the application
# image might lack or carry in another version (no libstdc++, no gRPC, no OpenSSL). Prints what the
# library needs and exits 1 when it needs more. (libgcc_s is in every glibc-based image; libcuda.so.1,
# which gpupool's libnvidia-ml.so.1 needs, is gpupool's own, installed beside it.)
set -eu
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: check-client-abi.sh LIBRARY [MAX_GLIBC]" >&2
  exit 2
fi
lib=$1
max=${2:-2.34}
if [ ! -f "$lib" ]; then
  echo "check-client-abi.sh: $lib does not exist" >&2
  exit 2
fi

needed=$(objdump -p "$lib" | awk '$1 == "NEEDED" {print $2}')
newest=$(objdump -T "$lib" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
echo "$lib: needs $(echo $needed | tr ' ' ','), GLIBC ${newest:-none}"

status=0
for n in $needed; do
  case $n in
    libc.so.6|libm.so.6|libdl.so.2|libpthread.so.0|librt.so.1|libgcc_s.so.1|ld-linux-x86-64.so.2|ld-linux-aarch64.so.1) ;;
    libcuda.so.1) [ "$(basename "$lib")" = libnvidia-ml.so.1 ] || {
        echo "check-client-abi.sh: $lib needs libcuda.so.1; only gpupool's NVML, installed beside it, may" >&2
        status=1; } ;;
    *) echo "check-client-abi.sh: $lib needs $n, which application images may not have (link it statically)" >&2
       status=1 ;;
  esac
done
if [ -n "$newest" ] && [ "$(printf '%s\n%s\n' "$newest" "$max" | sort -V | tail -n 1)" != "$max" ]; then
  echo "check-client-abi.sh: $lib needs GLIBC_$newest, newer than $max: build it on an older C library" >&2
  status=1
fi
exit $status
