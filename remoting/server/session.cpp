#include "remoting/server/session.h"

#include <algorithm>
#include <cstring>

#include "remoting/server/backend.h"
#include "remoting/server/compute_share.h"

namespace gpupool::server {
namespace {

template <typename H>
CUresult Lookup(const HandleTable<H>& table, std::uint64_t id, H* out) {
  auto h = table.Find(id);
  if (!h) return CUDA_ERROR_INVALID_HANDLE;
  *out = *h;
  return CUDA_SUCCESS;
}

}  // namespace

Session::Session(const DriverApi& driver, SessionStats* session_stats) : api(driver), stats(session_stats) {
  const std::uint32_t count = stats != nullptr ? stats->gpu_count() : 0;
  per_device = count > 1 || (count == 1 && !stats->gpus[0].Uuid().empty());
  for (std::uint32_t i = 0; i < count; ++i) memory_limits.push_back(stats->gpus[i].memory_limit_bytes);
  if (memory_limits.empty()) memory_limits.push_back(0);
}

CUresult Session::Context(std::uint64_t id, CUcontext* out) const {
  return Lookup(contexts, id, out);
}
CUresult Session::Event(std::uint64_t id, CUevent* out) const {
  return Lookup(events, id, out);
}
CUresult Session::Module(std::uint64_t id, CUmodule* out) const {
  return Lookup(modules, id, out);
}
CUresult Session::Library(std::uint64_t id, CUlibrary* out) const {
  return Lookup(libraries, id, out);
}
CUresult Session::Kernel(std::uint64_t id, CUkernel* out) const {
  return Lookup(kernels, id, out);
}
CUresult Session::Function(std::uint64_t id, CUfunction* out) const {
  return Lookup(functions, id, out);
}

CUresult Session::Array(std::uint64_t id, CUarray* out, protocol::ArrayExtent* extent) const {
  if (CUresult r = Lookup(arrays, id, out); r != CUDA_SUCCESS) return r;
  if (extent != nullptr) *extent = array_extents.at(id);
  return CUDA_SUCCESS;
}

CUresult Session::Mipmap(std::uint64_t id, CUmipmappedArray* out) const {
  return Lookup(mipmaps, id, out);
}

CUresult Session::Stream(std::uint64_t id, CUstream* out) const {
  switch (id) {
    case 0: *out = nullptr; return CUDA_SUCCESS;
    case 1: *out = CU_STREAM_LEGACY; return CUDA_SUCCESS;
    case 2: *out = CU_STREAM_PER_THREAD; return CUDA_SUCCESS;
    default: return Lookup(streams, id, out);
  }
}

CUresult Session::CheckRange(std::uint64_t ptr, std::uint64_t size) const {
  return memory.Contains(ptr, size) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

std::byte* Session::HostView(std::uint64_t ptr, std::uint64_t size) const {
  if (backend == nullptr || size == 0 || CheckRange(ptr, size) != CUDA_SUCCESS) return nullptr;
  return backend->HostView(ptr, size);
}

CUresult Session::CheckRange2D(std::uint64_t ptr, std::uint64_t pitch, std::uint64_t width,
                               std::uint64_t height) const {
  if (height == 0 || width == 0) return CUDA_SUCCESS;
  if (width > pitch && height > 1) return CUDA_ERROR_INVALID_VALUE;
  // The region spans (height - 1) * pitch + width bytes from ptr; check that product for overflow.
  std::uint64_t rows = height - 1;
  if (pitch != 0 && rows > (UINT64_MAX - width) / pitch) return CUDA_ERROR_INVALID_VALUE;
  return CheckRange(ptr, rows * pitch + width);
}

int Session::CurrentDevice() const {
  CUdevice device = 0;
  return GPUPOOL_DRIVER(*this, cuCtxGetDevice, &device) == CUDA_SUCCESS ? device : 0;
}

std::size_t Session::ShareIndex(int device) const {
  return per_device ? static_cast<std::size_t>(std::max(device, 0)) : 0;
}

std::uint64_t Session::MemoryLimit(int device) const {
  const std::size_t i = ShareIndex(device);
  // A device beyond the admitted ones cannot be opened (CUDA_VISIBLE_DEVICES names only those).
  return i < memory_limits.size() ? memory_limits[i] : 0;
}

std::uint64_t Session::UsedBytes(int device) const {
  return memory.owned().On(device) + array_bytes.On(device) + virtual_memory.physical().On(device);
}

std::uint64_t Session::UsedBytes() const {
  return memory.owned_bytes() + array_bytes.total() + virtual_memory.physical_bytes();
}

CUresult Session::CheckQuota(std::uint64_t bytes, int device) const {
  const std::uint64_t limit = MemoryLimit(device);
  if (limit == 0) return CUDA_SUCCESS;
  const std::uint64_t used = UsedBytes(device);
  return bytes > limit || used > limit - bytes ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

void Session::AddAllocation(std::uint64_t base, std::uint64_t size, int device) {
  memory.Add(base, size, AllocationTable::Kind::kOwned, device);
  PublishMemory();
}

ComputeShare* Session::ComputeFor(int device) const {
  const std::size_t i = ShareIndex(device);
  return i < compute.size() ? compute[i] : nullptr;
}

SessionGpu* Session::StatsFor(int device) const {
  const std::size_t i = ShareIndex(device);
  return stats != nullptr && i < stats->gpu_count() ? &stats->gpus[i] : nullptr;
}

int Session::IssuingDevice() const {
  return per_device && memory_limits.size() > 1 ? CurrentDevice() : 0;
}

SessionGpu* Session::IssuingGpu() const {
  return StatsFor(IssuingDevice());
}

void Session::CollectKernels() const {
  for (ComputeShare* c : compute) c->Collect();
}

void Session::PublishMemory() {
  if (stats == nullptr) return;
  stats->mapped_host_bytes = mapped_arena != nullptr ? mapped_arena->registered_bytes() : 0;
  if (stats->gpu_count() == 0) return;
  if (!per_device) {
    stats->gpus[0].memory_used_bytes = UsedBytes();  // one entry for every device the session sees
    return;
  }
  const std::size_t count = std::min<std::size_t>(stats->gpu_count(), memory_limits.size());
  for (std::size_t i = 0; i < count; ++i) stats->gpus[i].memory_used_bytes = UsedBytes(static_cast<int>(i));
}

CUresult Session::Layout(CUfunction f, const ParamLayout** out) {
  auto it = layouts.find(f);
  if (it == layouts.end()) {
    ParamLayout layout;
    for (std::size_t i = 0;; ++i) {
      std::size_t offset = 0, size = 0;
      CUresult r = GPUPOOL_DRIVER(*this, cuFuncGetParamInfo, f, i, &offset, &size);
      if (r == CUDA_ERROR_INVALID_VALUE) break;  // past the last parameter
      if (r != CUDA_SUCCESS) return r;
      layout.offsets.push_back(offset);
      layout.sizes.push_back(size);
      if (offset + size > layout.end) layout.end = offset + size;
    }
    it = layouts.emplace(f, std::move(layout)).first;
  }
  *out = &it->second;
  return CUDA_SUCCESS;
}

void Session::DropChildren(std::uint64_t parent) {
  auto [first, last] = children.equal_range(parent);
  for (auto it = first; it != last; ++it) {
    if (auto f = functions.Find(it->second)) layouts.erase(*f);
    functions.Remove(it->second);
    kernels.Remove(it->second);
    modules.Remove(it->second);  // a library's module
  }
  children.erase(first, last);
  auto [gfirst, glast] = globals.equal_range(parent);
  for (auto it = gfirst; it != glast; ++it) {
    std::uint64_t base = 0, size = 0;
    if (memory.Find(it->second, &base, &size)) memory.RemoveBorrowedIn(base, size);
  }
  globals.erase(gfirst, glast);
}

void Session::BeforeContextDestroy() {
  for (ComputeShare* c : compute) c->Forget();
  deferred.Detach();
}

std::string_view Session::Owner() const {
  if (stats == nullptr) return {};
  return std::string_view(stats->pod_uid, strnlen(stats->pod_uid, sizeof stats->pod_uid));
}

void Session::WithdrawMemoryExport(std::uint64_t base) {
  auto it = memory_exports.find(base);
  if (it == memory_exports.end()) return;
  if (ipc != nullptr) ipc->Withdraw(session_id, it->second);
  memory_exports.erase(it);
}

void Session::WithdrawEventExport(std::uint64_t event_id) {
  auto it = event_exports.find(event_id);
  if (it == event_exports.end()) return;
  if (ipc != nullptr) ipc->Withdraw(session_id, it->second);
  event_exports.erase(it);
}

void Session::WithdrawFreedPhysicalExports() {
  for (auto it = physical_exports.begin(); it != physical_exports.end();) {
    if (virtual_memory.physicals().count(it->first) != 0) {
      ++it;
      continue;
    }
    if (ipc != nullptr) ipc->Withdraw(session_id, it->second);
    if (fd_exchange != nullptr) fd_exchange->Withdraw(it->second);
    it = physical_exports.erase(it);
  }
}

void Session::ReleaseAll() {
  // Nobody opens this session's memory or events from now on.
  if (ipc != nullptr) ipc->WithdrawSession(session_id);
  memory_exports.clear();
  event_exports.clear();
  physical_exports.clear();
  fd_exchange.reset();  // its descriptors, which keep exported memory alive
  BeforeContextDestroy();
  // Synchronise first so nothing still runs on memory about to be freed; errors no longer matter.
  for (const auto& [id, ctx] : contexts.all()) {
    if (GPUPOOL_DRIVER(*this, cuCtxSetCurrent, ctx) == CUDA_SUCCESS)
      (void)GPUPOOL_DRIVER(*this, cuCtxSynchronize);
  }
  // Objects that reference arrays and memory go first.
  for (std::uint64_t t : textures) (void)GPUPOOL_DRIVER(*this, cuTexObjectDestroy, t);
  for (std::uint64_t t : surfaces) (void)GPUPOOL_DRIVER(*this, cuSurfObjectDestroy, t);
  for (const auto& [id, m] : mipmaps.all()) (void)GPUPOOL_DRIVER(*this, cuMipmappedArrayDestroy, m);
  for (const auto& [id, a] : arrays.all()) {
    if (level_arrays.count(id) == 0) (void)GPUPOOL_DRIVER(*this, cuArrayDestroy, a);
  }
  for (const auto& [base, entry] : memory.entries()) {
    if (entry.kind == AllocationTable::Kind::kOwned)
      (void)GPUPOOL_DRIVER(*this, cuMemFree_v2, static_cast<CUdeviceptr>(base));
  }
  if (mapped_arena != nullptr) mapped_arena->UnregisterAll(api);
  for (const auto& [base, opened] : opened_memory)
    (void)GPUPOOL_DRIVER(*this, cuIpcCloseMemHandle, static_cast<CUdeviceptr>(base));
  opened_memory.clear();
  // Mappings, then the references to their memory, then the address ranges they were in.
  for (const auto& [base, mapping] : virtual_memory.mappings()) {
    (void)GPUPOOL_DRIVER(*this, cuMemUnmap, static_cast<CUdeviceptr>(base), mapping.size);
  }
  for (const auto& [id, physical] : virtual_memory.physicals()) {
    for (std::uint64_t i = 0; i < physical.references; ++i)
      (void)GPUPOOL_DRIVER(*this, cuMemRelease, physical.handle);
  }
  for (const auto& [base, size] : virtual_memory.reservations()) {
    (void)GPUPOOL_DRIVER(*this, cuMemAddressFree, static_cast<CUdeviceptr>(base), size);
  }
  for (const auto& [id, e] : events.all()) (void)GPUPOOL_DRIVER(*this, cuEventDestroy_v2, e);
  for (const auto& [id, s] : streams.all()) (void)GPUPOOL_DRIVER(*this, cuStreamDestroy_v2, s);
  for (std::uint64_t id : loaded_modules) {
    if (auto m = modules.Find(id)) (void)GPUPOOL_DRIVER(*this, cuModuleUnload, *m);
  }
  for (const auto& [id, l] : libraries.all()) (void)GPUPOOL_DRIVER(*this, cuLibraryUnload, l);
  memory = AllocationTable();
  virtual_memory = VirtualMemory();
  textures.clear();
  surfaces.clear();
  arrays.Clear();
  mipmaps.Clear();
  mipmap_levels.clear();
  level_arrays.clear();
  array_extents.clear();
  array_charges.clear();
  array_bytes = DeviceBytes();
  events.Clear();
  streams.Clear();
  modules.Clear();
  loaded_modules.clear();
  libraries.Clear();
  kernels.Clear();
  functions.Clear();
  layouts.clear();
  PublishMemory();
}

}  // namespace gpupool::server
