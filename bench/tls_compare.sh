#!/bin/sh
# tls_compare.sh [BUILD_DIR] [OUT_PREFIX]: gpupool-bench against two gpupool-servers on TCP loopback,
# one plaintext and one with TLS (a throw-away CA and certificate made here with the openssl CLI and
# deleted afterwards), the same device (--device emulated unless GPUPOOL_BENCH_DEVICE=cuda), one after
# the other. Writes OUT_PREFIX-plain.jsonl and OUT_PREFIX-tls.jsonl (gpupool-bench --json lines
# behind a header saying when, how and where).
set -eu
build=${1:-build}
out=${2:-bench/results/$(date -u +%F)-remoting-tcp-loopback}
device=${GPUPOOL_BENCH_DEVICE:-emulated}
tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=gpupool-bench-ca \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial -days 1 \
  -extfile "$tmp/ext" -out "$tmp/server.pem" 2>/dev/null

# start NAME FLAGS...: starts a server, prints its TCP address once it listens.
start() {
  name=$1
  shift
  "$build/bin/gpupool-server" --device "$device" --listen 127.0.0.1:0 "$@" >"$tmp/$name.log" 2>&1 &
  pids="$pids $!"
  for _ in $(seq 1 200); do
    addr=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$tmp/$name.log")
    if [ -n "$addr" ]; then
      echo "$addr"
      return
    fi
    sleep 0.05
  done
  echo "tls_compare.sh: the $name server did not start:" >&2
  cat "$tmp/$name.log" >&2
  exit 1
}

plain=$(start plain)
tls=$(start tls --tls-cert-file "$tmp/server.pem" --tls-key-file "$tmp/server.key")

header() {
  echo "# gpupool-bench, $(date -u '+%F %H:%M') UTC"
  echo "# command: $1"
  echo "# server: gpupool-server --device $device --listen 127.0.0.1:0 $2 (bench/tls_compare.sh)"
  echo "# machine: $(nproc) CPU cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(openssl version)"
}
header "build/bin/gpupool-bench --server $plain --json" "" >"$out-plain.jsonl"
"$build/bin/gpupool-bench" --server "$plain" --json >>"$out-plain.jsonl"
header "GPUPOOL_TLS_CA_FILE=ca.pem build/bin/gpupool-bench --server $tls --json" \
  "--tls-cert-file server.pem --tls-key-file server.key (ECDSA P-256)" >"$out-tls.jsonl"
GPUPOOL_TLS_CA_FILE="$tmp/ca.pem" "$build/bin/gpupool-bench" --server "$tls" --json >>"$out-tls.jsonl"
grep -q "TLS on TCP" "$tmp/tls.log"
echo "wrote $out-plain.jsonl and $out-tls.jsonl"
