// The pod binding: which GPUs of which servers a pod may use, and how much of each.
//
// The operator writes it as JSON into the pod annotation `gpupool.io/binding`; the client library
// inside the pod reads it back from the downward-API annotations file ($GPUPOOL_POD_INFO). Contract
// (docs/architecture.md §4.4):
//   {"pool":"default","gpus":[{"server":"gpu-01:7470","uuid":"GPU-…","percent":50,"memoryBytes":17179869184}]}
// Parsing is strict: anything the operator would not have written is an error that names the field,
// so a foreign or corrupted edit is detected instead of trusted.
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gpupool {

inline constexpr std::string_view kBindingAnnotation = "gpupool.io/binding";
inline constexpr std::string_view kSchedulingGate = "gpupool.io/binding";
inline constexpr std::string_view kPoolAnnotation = "gpupool.io/pool";
// "node": run the pod on the node of the GPU server it is bound to (its node-local socket: copy ring
// and mapped host memory); "any" (or absent): anywhere.
inline constexpr std::string_view kLocalityAnnotation = "gpupool.io/locality";
// The node label the binder pins such a pod with (spec.nodeSelector), and GPUPool.spec.servers[].node
// names.
inline constexpr std::string_view kHostnameLabel = "kubernetes.io/hostname";
inline constexpr std::string_view kResourceGpu = "gpupool.io/gpu";
inline constexpr std::string_view kResourcePercent = "gpupool.io/gpu-percent";
inline constexpr std::string_view kResourceMemory = "gpupool.io/gpu-memory";
inline constexpr std::string_view kTokenAudience = "gpupool.io";
inline constexpr std::string_view kPodInfoEnv = "GPUPOOL_POD_INFO";
inline constexpr std::string_view kPodInfoDefaultPath = "/etc/gpupool/pod/annotations";
// The pod's UID (downward API metadata.uid), sent in the handshake: servers apply the share admitted
// for it (docs/compute-share.md).
inline constexpr std::string_view kPodUidEnv = "GPUPOOL_POD_UID";
inline constexpr std::string_view kTokenDefaultPath = "/etc/gpupool/token";
// Names the pod's projected service-account token (audience kTokenAudience) for libcuda.so.1, which
// sends it in the handshake; the webhook sets it to kTokenDefaultPath (docs/security.md).
inline constexpr std::string_view kPodTokenFileEnv = "GPUPOOL_POD_TOKEN_FILE";
// Set by the device plugin in containers on a node whose gpupool-server listens on a Unix socket it
// can reach: the socket's path inside the container. The client uses it for a bound GPU that server
// proves to serve (remoting/client/local_server.h), else the binding's TCP address.
inline constexpr std::string_view kLocalSocketEnv = "GPUPOOL_LOCAL_SOCKET";

struct GpuBinding {
  std::string server;  // HOST:PORT of the gpupool-server data port
  std::string uuid;    // "GPU-…"
  int percent = 100;   // 1..100
  std::uint64_t memory_bytes = 0;

  friend bool operator==(const GpuBinding&, const GpuBinding&) = default;
};

struct Binding {
  std::string pool;
  std::vector<GpuBinding> gpus;

  friend bool operator==(const Binding&, const Binding&) = default;
};

// Compact JSON with keys in the order of the contract above.
std::string BindingToJson(const Binding& binding);
Result<Binding> BindingFromJson(std::string_view json);

// Parses the downward-API file that holds all annotations: one `key="value"` per line, values quoted
// as Go's strconv.Quote does. Unknown keys are kept; malformed lines are an error with the line number.
Result<std::map<std::string, std::string>> ParseDownwardAnnotations(std::string_view text);

}  // namespace gpupool
