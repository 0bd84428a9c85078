// The emulator's process-wide state, its configuration, and lookups shared by the API files.
#include "remoting/server/emulated/state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>

#include "common/address_ranges.h"
#include "remoting/server/gpu_identity.h"

namespace gpupool::server::emulated {
namespace {

// Device addresses: GPU i's memory starts at kDeviceBase + i * kDeviceStride. Far above the usual
// places of a Linux process's heap (0x55...) and mappings (0x7f...), so they never alias host memory
// that a test could mistake for device memory.
constexpr CUdeviceptr kDeviceBase = 0x200000000000ULL;
constexpr CUdeviceptr kDeviceStride = 1ULL << 40;  // per-GPU capacity limit: 1 TiB
constexpr int kMaxGpus = 16;
// PCI bus numbers of the eight GPUs of an HGX H200 board.
constexpr int kPciBuses[] = {0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb};

std::uint64_t Fnv1a(std::string_view bytes, std::uint64_t hash = 1469598103934665603ULL) {
  for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ULL;
  return hash;
}

CUuuid MakeUuid(const std::string& seed, int gpu) {
  const std::string key = seed + "/gpu" + std::to_string(gpu);
  const std::uint64_t hi = Fnv1a(key), lo = Fnv1a(key, hi ^ 0x9e3779b97f4a7c15ULL);
  CUuuid uuid;
  std::memcpy(uuid.bytes, &hi, 8);
  std::memcpy(uuid.bytes + 8, &lo, 8);
  uuid.bytes[6] = static_cast<char>((uuid.bytes[6] & 0x0f) | 0x40);  // RFC 4122 version 4 layout
  uuid.bytes[8] = static_cast<char>((uuid.bytes[8] & 0x3f) | 0x80);
  return uuid;
}

thread_local std::vector<Context*> t_stack;

}  // namespace

State& GetState() {
  static State* state = new State();  // never destroyed: driver calls may come from exit handlers
  return *state;
}

Status Configure(const EmulatedConfig& config) {
  if (config.gpus < 1 || config.gpus > kMaxGpus) {
    return Status::InvalidArgument("--emulated-gpus must be 1.." + std::to_string(kMaxGpus));
  }
  const std::uint64_t memory = config.memory_bytes / 256 * 256;
  if (memory < (1ULL << 20) || memory > kDeviceStride) {
    return Status::InvalidArgument("--emulated-memory must be 1 MiB..1 TiB per GPU");
  }
  State& s = GetState();
  std::lock_guard lock(s.mu);
  if (!s.devices.empty())
    return Status::FailedPrecondition("the emulated device is already open in this process");
  std::string seed = config.uuid_seed;
  if (seed.empty()) {
    // Unique per server instance: pid, time and a random number.
    seed = std::to_string(getpid()) + "/" +
           std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "/" +
           std::to_string(std::random_device{}());
  }
  // Like the driver, only the GPUs CUDA_VISIBLE_DEVICES names are visible, renumbered from 0; each
  // keeps its UUID (a session worker is limited to its admitted GPU this way).
  std::vector<int> physical(static_cast<std::size_t>(config.gpus));
  for (int i = 0; i < config.gpus; ++i) physical[static_cast<std::size_t>(i)] = i;
  if (const char* spec = std::getenv("CUDA_VISIBLE_DEVICES")) {
    std::vector<std::string> uuids;
    for (int i = 0; i < config.gpus; ++i) uuids.push_back(FormatGpuUuid(MakeUuid(seed, i)));
    physical = VisibleDevices(spec, uuids);
    if (physical.empty()) {
      return Status::NotFound("CUDA_VISIBLE_DEVICES=" + std::string(spec) + " names none of the " +
                              std::to_string(config.gpus) + " emulated GPUs");
    }
  }
  s.config = config;
  s.devices.resize(physical.size());
  for (std::size_t slot = 0; slot < physical.size(); ++slot) {
    const int i = static_cast<int>(slot), gpu = physical[slot];
    Device& d = s.devices[slot];
    d.name = "gpupool emulated H200";
    d.uuid = MakeUuid(seed, gpu);
    d.lost = gpu == config.lost_gpu;  // --emulated-lost-gpu names the physical index
    d.pci_bus = gpu < 8 ? kPciBuses[gpu] : 0xe0 + gpu;
    GPUPOOL_ASSIGN_OR_RETURN(d.memory, DeviceMemory::Create(kDeviceBase + kDeviceStride * i, memory));
    d.primary.device = i;
    d.primary.primary = true;
  }
  if (!config.record_launches_path.empty()) {
    s.launch_log_fd =
        open(config.record_launches_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s.launch_log_fd < 0) {
      s.devices.clear();
      return Status::InvalidArgument("cannot open --record-launches file " + config.record_launches_path +
                                     ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

std::vector<Context*>& ContextStack() {
  return t_stack;
}

Context* CurrentContext() {
  State& s = GetState();
  if (t_stack.empty()) return nullptr;
  Context* ctx = t_stack.back();
  if (!s.contexts.count(ctx)) return nullptr;
  return ctx;
}

CUresult RequireContext(Context** ctx) {
  State& s = GetState();
  if (!s.initialized) return CUDA_ERROR_NOT_INITIALIZED;
  *ctx = CurrentContext();
  return *ctx ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

bool ValidDevice(CUdevice dev) {
  return dev >= 0 && static_cast<std::size_t>(dev) < GetState().devices.size();
}

bool LostDevice(CUdevice dev) {
  return ValidDevice(dev) && GetState().devices[static_cast<std::size_t>(dev)].lost;
}

DeviceMemory* MemoryFor(CUdeviceptr address) {
  for (Device& d : GetState().devices) {
    if (d.memory->InRange(address)) return d.memory.get();
  }
  return nullptr;
}

bool IsDeviceAddress(CUdeviceptr address) {
  return MemoryFor(address) != nullptr || VirtualMemory::InWindow(address);
}

std::byte* ResolveDevice(CUdeviceptr address, std::size_t bytes, unsigned long long need) {
  if (DeviceMemory* memory = MemoryFor(address)) return memory->Resolve(address, bytes);
  // Mapped memory: the access rights are those of the device the caller works on.
  const Context* ctx = CurrentContext();
  if (ctx == nullptr) return nullptr;
  if (std::byte* mapped = GetState().virtual_memory.Resolve(address, bytes, ctx->device, need)) return mapped;
  const auto& registered = GetState().host_registered;
  auto it = RangeHolding(registered, address, [](const State::RegisteredHost& h) { return h.bytes; });
  if (it == registered.end() || (it->second.flags & CU_MEMHOSTREGISTER_DEVICEMAP) == 0) return nullptr;
  if (bytes > it->second.bytes - (address - it->first)) return nullptr;
  return reinterpret_cast<std::byte*>(address);
}

CUresult CheckStream(CUstream stream) {
  if (stream == nullptr || stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD) {
    return CUDA_SUCCESS;
  }
  return GetState().streams.count(stream) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

unsigned long long StreamId(CUstream stream) {
  // The legacy default stream is id 0 and the per-thread one id 1; created streams count from 2
  // (they take ids from next_id, which skips 0 and 1).
  if (stream == nullptr || stream == CU_STREAM_LEGACY) return 0;
  if (stream == CU_STREAM_PER_THREAD) return 1;
  auto it = GetState().streams.find(stream);
  return it == GetState().streams.end() ? 0 : it->second->id;
}

}  // namespace gpupool::server::emulated
