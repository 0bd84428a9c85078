// Backend: where a session worker's driver calls go.
//
//   "cuda"      the machine's real libcuda.so.1, opened with dlopen (remoting/server/cuda_backend.cpp)
//   "emulated"  host memory, real stream/event ordering, launches validated and recorded but not
//               executed, each keeping its stream busy for a simulated run time
//               (remoting/server/emulated/); for tests on machines without a GPU.
//
// A backend is opened once per worker process, after fork (CUDA does not survive fork after cuInit,
// so the broker never opens one itself).
//
// Thread-safety: the DriverApi table is immutable after Open*; the functions in it are as
// thread-safe as the CUDA driver's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "remoting/server/driver_api.h"

namespace gpupool::server {

struct EmulatedConfig {
  int gpus = 1;                              // --emulated-gpus
  std::uint64_t memory_bytes = 16ULL << 30;  // --emulated-memory, per GPU
  std::string uuid_seed;                     // makes GPU UUIDs unique per server instance
  std::string record_launches_path;          // --record-launches: JSON line per kernel launch
  // --emulated-lost-gpu: this GPU acts as one fallen off the bus — it keeps its name and UUID, but
  // memory and attribute queries and context creation fail with CUDA_ERROR_DEVICE_UNAVAILABLE
  // (health monitoring, alerts and failure handling can be tried without a broken GPU). -1: none.
  int lost_gpu = -1;
  std::uint64_t kernel_time_ns = 0;  // --emulated-kernel-time: simulated run time per launch
};

class Backend {
 public:
  virtual ~Backend() = default;
  // "cuda" or "emulated".
  virtual std::string kind() const = 0;
  virtual const DriverApi& api() const = 0;
  // Host memory holding device memory [ptr, ptr + bytes), when the backend's device memory is
  // host-addressable and a copy to or from it is exactly a move of those bytes made when the copy
  // is called (the emulated device); null otherwise (a real GPU) and for a range not inside one live
  // allocation. The worker then moves a bulk copy's bytes between the socket and this memory itself
  // (no copy through a frame buffer or staging), after calling the copy with zero bytes for its
  // checks and stream ordering. Valid until the allocation is freed. The caller still checks the
  // range against the session's own allocations first: this says nothing about ownership.
  virtual std::byte* HostView(CUdeviceptr /*ptr*/, std::uint64_t /*bytes*/) const { return nullptr; }
};

// Opens the real driver: dlopen("libcuda.so.1") (or `library_path` when set) and resolves every
// DriverApi entry. Entries the driver lacks stay null. Fails when the library or cuInit is missing.
Result<std::unique_ptr<Backend>> OpenCudaBackend(const std::string& library_path = "");
// The emulated device. One per process: the table's functions share process-wide state.
Result<std::unique_ptr<Backend>> OpenEmulatedBackend(const EmulatedConfig& config);

}  // namespace gpupool::server
