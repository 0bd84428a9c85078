#!/usr/bin/env bash
# The checks only a GPU can show (issues 2, 3, 6): every program runs natively and through gpupool
# (a gpupool-server --device cuda on this machine, over a Unix socket), and the two runs are compared.
# Writes to OUT_DIR: summary.md (a table for docs/conformance.md), results.jsonl (one line per run
# pair), bench.jsonl (gpupool-bench against the GPU over a Unix socket, with the copy ring),
# bench-tcp.jsonl (the same over TCP loopback), share.jsonl (gpupool-share-bench: 30 %/70 %
# compute shares), log.txt (every output, for the record).
#
#   scripts/gpu-check.sh [--bundle DIR] [--out DIR] [--extra DIR] [--steps N] [--no-torch] [--emulated]
#                        [--only PARTS] [--timeout SECONDS]
#
#   --bundle DIR   binaries from scripts/gpu-bundle.sh (default build-gpu-bundle)
#   --out DIR      where results go (default $OUT when set, else gpu-check-results)
#   --extra DIR    also run every executable file in DIR (e.g. CUDA samples built elsewhere)
#   --steps N      training steps of the sentiment example (default 300; 0 skips it)
#   --no-torch     skip the PyTorch checks (the same as leaving torch out of --only)
#   --emulated     self-test on a machine without a GPU: the server uses the emulated device, native
#                  runs are skipped, and runtime programs skip kernel results
#   --only PARTS   comma-separated, in the order they run: programs (the test programs, --extra, the
#                  compute-bound loop, `gpupool run`), bench (gpupool-bench over the Unix socket),
#                  share (gpupool-bench over TCP, the compute-share bench), torch (PyTorch smoke and
#                  the sentiment training). Default: all four. A device session with little time
#                  runs them in separate calls; each call's OUT then holds its parts' results.
#   --timeout S    the most one program run may take (default 120)
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bundle=build-gpu-bundle
out=${OUT:-gpu-check-results}
extra=""
steps=300
torch=1
emulated=0
parts=programs,bench,share,torch
program_timeout=120
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle=$2; shift ;;
    --out) out=$2; shift ;;
    --extra) extra=$2; shift ;;
    --steps) steps=$2; shift ;;
    --no-torch) torch=0 ;;
    --emulated) emulated=1 ;;
    --only) parts=$2; shift ;;
    --timeout) program_timeout=$2; shift ;;
    *) echo "usage: scripts/gpu-check.sh [--bundle DIR] [--out DIR] [--extra DIR] [--steps N] [--no-torch] [--emulated] [--only PARTS] [--timeout SECONDS]" >&2; exit 2 ;;
  esac
  shift
done
for part in ${parts//,/ }; do
  case "$part" in
    programs | bench | share | torch) ;;
    *) echo "gpu-check: --only takes programs, bench, share, torch (comma-separated), not \"$part\"" >&2; exit 2 ;;
  esac
done
wants() { [[ ",$parts," == *",$1,"* ]]; }
wants torch || torch=0
case "$program_timeout" in
  '' | *[!0-9]*) echo "gpu-check: --timeout takes whole seconds" >&2; exit 2 ;;
esac
bundle=$(cd "$bundle" 2>/dev/null && pwd) || { echo "gpu-check: no bundle folder (run scripts/gpu-bundle.sh)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/log.txt
results=$out/results.jsonl
summary=$out/summary.md
: >"$log"
: >"$results"
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
say() { echo "gpu-check: $*" | tee -a "$log" >&2; }

device=cuda
if [ "$emulated" = 1 ]; then
  device=emulated
elif ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  say "no NVIDIA GPU here (nvidia-smi finds none): nothing to check; --emulated runs a self-test"
  exit 1
fi

{
  echo "# gpupool GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- device: $device"
  if [ "$device" = cuda ]; then
    echo "- GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)"
  fi
  echo "- nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo none)"
  echo "- host: $(uname -srm), $(nproc) CPUs"
  echo "- bundle: $bundle ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown commit))"
  echo
  echo "| program | native | through gpupool | same output | native s | gpupool s | gpupool/native |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
} >"$summary"

# The server: the machine's driver, never gpupool's client (so no client folder on its library path).
socket=$tmp/gpupool.sock
LD_LIBRARY_PATH=$bundle/deps "$bundle/bin/gpupool-server" --device "$device" --listen "unix:$socket" \
  >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do
  grep -q "listening on" "$tmp/server.log" && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "listening on" "$tmp/server.log"; then
  say "gpupool-server did not start:"
  cat "$tmp/server.log" | tee -a "$log" >&2
  exit 1
fi

# run_one NAME MODE OUTFILE CMD... : MODE native|gpupool; prints "rc seconds".
run_one() {
  local name=$1 mode=$2 file=$3
  shift 3
  local start end rc
  start=$(date +%s.%N)
  if [ "$mode" = native ]; then
    timeout "$program_timeout" "$@" >"$file" 2>&1
  else
    LD_LIBRARY_PATH=$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} GPUPOOL_SERVER=unix:$socket \
      timeout "$program_timeout" "$@" >"$file" 2>&1
  fi
  rc=$?
  end=$(date +%s.%N)
  { echo "===== $name ($mode): exit $rc"; cat "$file"; } >>"$log"
  echo "$rc $(printf '%.3f' "$(echo "$end - $start" | bc)")"
}

# compare NAME CMD... : runs natively (unless emulated) and through gpupool, records both.
compare() {
  local name=$1
  shift
  local n_rc=- n_s=- same=- ratio=-
  local native=0
  [ "$device" = cuda ] && [ "${gpupool_only:-0}" = 0 ] && native=1
  if [ "$native" = 1 ]; then
    read -r n_rc n_s < <(run_one "$name" native "$tmp/native.out" "$@")
  fi
  local g_rc g_s
  read -r g_rc g_s < <(run_one "$name" gpupool "$tmp/gpupool.out" "$@")
  if [ "$native" = 1 ]; then
    # Lines that carry timings or addresses differ by nature (the driver programs' EXPECT lines hold
    # launch parameter bytes, device pointers among them, for ctest's launch-record check); everything
    # else must be equal.
    local varying='time|elapsed|ms\b|GB/s|seconds|0x[0-9a-f]{6,}|^EXPECT '
    if diff <(grep -viE "$varying" "$tmp/native.out") <(grep -viE "$varying" "$tmp/gpupool.out") >>"$log"; then
      same=yes
    else
      same=no
    fi
    ratio=$(echo "scale=3; $g_s / $n_s" | bc 2>/dev/null || echo -)
  fi
  local verdict_n verdict_g
  verdict_n=$([ "$n_rc" = - ] && echo - || { [ "$n_rc" = 0 ] && echo pass || echo "FAIL ($n_rc)"; })
  verdict_g=$([ "$g_rc" = 0 ] && echo pass || echo "FAIL ($g_rc)")
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$verdict_n" "$verdict_g" "$same" "$n_s" "$g_s" "$ratio" >>"$summary"
  printf '{"program":"%s","native_rc":"%s","gpupool_rc":"%s","same_output":"%s","native_s":"%s","gpupool_s":"%s"}\n' \
    "$name" "$n_rc" "$g_rc" "$same" "$n_s" "$g_s" >>"$results"
  say "$name: native $verdict_n, gpupool $verdict_g, same output: $same"
}

kernel_flag=()
[ "$device" = emulated ] && kernel_flag=(--no-kernel-results)

if wants programs; then
compare gpupool-device-query "$bundle/bin/gpupool-device-query"
for p in "$bundle"/tests/driver/driver_*; do
  name=$(basename "$p")
  case "$name" in
    *.fatbin | driver_server_loss) ;;  # the server-loss program kills its own server (ctest covers it)
    driver_launch | driver_coverage | driver_deferred_copies | driver_managed | driver_multi_gpu | \
      driver_mapped_host)
      compare "$name" "$p" "$bundle/tests/driver/driver_kernels.fatbin" ;;
    driver_link) compare "$name" "$p" "$bundle/tests/driver" ;;  # its link_* inputs are bundled there
    *) compare "$name" "$p" ;;
  esac
done
# Among them device_printf (simplePrintf style): the kernel's printf text must equal native, byte for
# byte and in place between the program's own lines (stdout is a file here, so stdio buffering is too);
# graph_nodes and graph_extras check gpupool's graphs (capture modes, user objects, memory nodes...)
# against the CUDA semantics the real driver has; batch_copies_logs checks the batched copies and the
# error log calls (natively only their contract: the driver's own log lines differ from gpupool's).
# The library_* programs call NVIDIA's libraries, too large to bundle: they use the machine's own, from
# its CUDA toolkit or PyTorch's wheels, found by their sonames.
site_dirs=$(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null)
# shellcheck disable=SC2086 # the site directories are separate arguments
nvidia_libs=$(find /usr/local /usr/lib /opt $site_dirs \( -name libcublas.so.13 -o -name libcublasLt.so.13 \
  -o -name libcurand.so.10 -o -name libcusparse.so.12 -o -name libcusolver.so.12 -o -name libcufft.so.12 \
  -o -name libcudnn.so.9 -o -name libnccl.so.2 \) -printf '%h\n' 2>/dev/null |
  sort -u | paste -sd:)
say "NVIDIA libraries for the library_* programs: ${nvidia_libs:-none found (those programs will fail to start)}"
for p in "$bundle"/tests/runtime/*; do
  case "$(basename "$p")" in
    *library_*) LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$nvidia_libs \
      compare "$(basename "$p")" "$p" "${kernel_flag[@]}" ;;
    *) compare "$(basename "$p")" "$p" "${kernel_flag[@]}" ;;
  esac
done
# gpupool's NVML against the CUDA driver in the same process, through gpupool only (natively NVML and
# CUDA answer differently by design: NVIDIA's NVML reports the whole GPU, every process's memory).
if [ -x "$bundle/tests/nvml/nvml_probe" ]; then
  gpupool_only=1 compare nvml_probe "$bundle/tests/nvml/nvml_probe"
fi
if [ -n "$extra" ]; then
  for p in "$extra"/*; do
    [ -f "$p" ] && [ -x "$p" ] && compare "extra/$(basename "$p")" "$p"
  done
fi

# Compute-bound speed: the same kernel loop natively and through gpupool; the checksum must match.
if [ -x "$bundle/bin/gpupool-compute-bound" ]; then
  compare gpupool-compute-bound "$bundle/bin/gpupool-compute-bound"
  if [ "$device" = cuda ]; then
    python3 - "$tmp/native.out" "$tmp/gpupool.out" <<'PY' | tee -a "$log" >>"$summary"
import json, sys
def load(path):
    return next(json.loads(l) for l in open(path) if l.startswith('{"metric":"compute_bound"'))
try:
    n, g = load(sys.argv[1]), load(sys.argv[2])
except StopIteration:
    print("\nCompute-bound loop: a run printed no result (see log.txt)")
    sys.exit(0)
same = "equal" if n["checksum"] == g["checksum"] else f"DIFFERENT ({n['checksum']} vs {g['checksum']})"
print(f"\nCompute-bound loop ({n['launches']} launches x {n['iters']} FMA iterations, {n['blocks']} blocks): "
      f"native {n['seconds']:.4f} s ({n['tflops']:.2f} TFLOP/s), through gpupool {g['seconds']:.4f} s "
      f"({g['tflops']:.2f} TFLOP/s): {100 * n['seconds'] / g['seconds']:.2f} % of native speed; checksums {same}")
PY
  fi
fi

# The `gpupool run` path a user takes, against the same server.
LD_LIBRARY_PATH=$bundle/deps timeout 120 "$bundle/bin/gpupool" run --server "unix:$socket" -- \
  "$bundle/bin/gpupool-device-query" >"$tmp/run.out" 2>&1
say "gpupool run --server ... -- gpupool-device-query: exit $?"
cat "$tmp/run.out" >>"$log"
fi  # programs

# Remoting costs against the GPU (copies land in real device memory here).
if wants bench && [ -x "$bundle/bin/gpupool-bench" ]; then
  LD_LIBRARY_PATH=$bundle/deps timeout 400 "$bundle/bin/gpupool-bench" --server "unix:$socket" --json \
    >"$out/bench.jsonl" 2>>"$log"
  say "gpupool-bench: exit $?, $(wc -l <"$out/bench.jsonl") results in bench.jsonl"
fi

# Compute shares (issue 6): two sessions admitted at 30 % and 70 % on one GPU, through the Control API
# of a second server on loopback TCP (its Control port is the data port + 1).
if wants share && [ -x "$bundle/bin/gpupool-share-bench" ]; then
  share_log=$tmp/share-server.log
  LD_LIBRARY_PATH=$bundle/deps "$bundle/bin/gpupool-server" --device "$device" --listen 127.0.0.1:7570 \
    >"$share_log" 2>&1 &
  share_pid=$!
  for _ in $(seq 300); do grep -q "listening on" "$share_log" && break; sleep 0.1; done
  # The same remoting costs over TCP loopback (no copy ring): what a pod on another node's path costs
  # here, less its network (bench/results/local-socket.md).
  if [ -x "$bundle/bin/gpupool-bench" ]; then
    LD_LIBRARY_PATH=$bundle/deps timeout 200 "$bundle/bin/gpupool-bench" --server 127.0.0.1:7570 --json \
      >"$out/bench-tcp.jsonl" 2>>"$log"
    say "gpupool-bench over TCP: exit $?, $(wc -l <"$out/bench-tcp.jsonl") results in bench-tcp.jsonl"
  fi
  for ms in 0.1 2 50; do
    LD_LIBRARY_PATH=$bundle/deps timeout 120 "$bundle/bin/gpupool-share-bench" --server 127.0.0.1:7570 \
      --seconds 5 --kernel-ms "$ms" --json >>"$out/share.jsonl" 2>>"$log"
    say "gpupool-share-bench (--kernel-ms $ms): exit $?"
  done
  kill "$share_pid" 2>/dev/null
  wait "$share_pid" 2>/dev/null
  cat "$share_log" >>"$log"
fi

if [ "$torch" = 1 ]; then
  if python3 -c 'import torch' 2>/dev/null; then
    compare torch_smoke python3 "$repo/tests/gpu/torch_smoke.py"
    # PyTorch's allocator on virtual memory management (cuMemCreate, cuMemMap), as PyTorch advises
    # when memory fragments.
    compare torch_smoke_expandable_segments env PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True \
      python3 "$repo/tests/gpu/torch_smoke.py"
    if [ "$steps" -gt 0 ]; then
      data=$tmp/sentiment-data
      for mode in native gpupool; do
        [ "$mode" = native ] && [ "$device" != cuda ] && continue
        read -r rc secs < <(run_one "sentiment_cnn" "$mode" "$tmp/train-$mode.out" python3 \
          "$repo/examples/sentiment-cnn/train.py" --device cuda --steps "$steps" --seed 1 --data-dir "$data" \
          --log "$out/train-$mode.jsonl")
        say "sentiment training ($mode, $steps steps): exit $rc in $secs s"
      done
      if [ -s "$out/train-native.jsonl" ] && [ -s "$out/train-gpupool.jsonl" ]; then
        python3 - "$out/train-native.jsonl" "$out/train-gpupool.jsonl" <<'PY' | tee -a "$log" >>"$summary"
import json, statistics, sys
def load(path):
    steps = [json.loads(l) for l in open(path) if l.startswith("{")]
    return [s for s in steps if s.get("event") == "step"]
n, g = load(sys.argv[1]), load(sys.argv[2])
pairs = list(zip(n, g))
diff = max((abs(a["loss"] - b["loss"]) for a, b in pairs), default=float("nan"))
tn = statistics.median(a["step_time_s"] for a in n) if n else float("nan")
tg = statistics.median(b["step_time_s"] for b in g) if g else float("nan")
print(f"\nSentiment text CNN: {len(pairs)} logged steps compared, max |loss difference| {diff:.3g}; "
      f"median step time native {tn*1e3:.2f} ms, through gpupool {tg*1e3:.2f} ms ({tg/tn:.3f}x)")
PY
      fi
    fi
  else
    say "python3 cannot import torch here: PyTorch checks skipped"
  fi
fi
cat "$tmp/server.log" >>"$log"
say "done: $summary"
cat "$summary"
