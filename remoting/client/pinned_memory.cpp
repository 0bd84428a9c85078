#include "remoting/client/pinned_memory.h"

#include <sys/mman.h>

#include "common/address_ranges.h"

namespace gpupool::client {

CUresult PinnedMemory::CheckAllocation(std::size_t bytes, unsigned flags, void** out) {
  constexpr unsigned kKnown =
      CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
  if (out == nullptr || (flags & ~kKnown) != 0 || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

CUresult PinnedMemory::Allocate(std::size_t bytes, unsigned flags, void** out) {
  if (CUresult r = CheckAllocation(bytes, flags, out); r != CUDA_SUCCESS) return r;
  // mmap: page-aligned and zeroed, and large buffers cost nothing until touched.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  std::lock_guard<std::mutex> lock(mu_);
  ranges_[static_cast<const char*>(p)] = Range{bytes, flags, true, 0};
  *out = p;
  return CUDA_SUCCESS;
}

void PinnedMemory::AddMapped(void* ptr, std::size_t bytes, std::size_t rounded, unsigned flags) {
  std::lock_guard<std::mutex> lock(mu_);
  ranges_[static_cast<const char*>(ptr)] = Range{bytes, flags, true, rounded};
  mapped_count_.fetch_add(1, std::memory_order_relaxed);
}

CUresult PinnedMemory::Free(void* ptr, std::size_t* mapped) {
  Range range{};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = ranges_.find(static_cast<const char*>(ptr));
    if (it == ranges_.end() || !it->second.owned) return CUDA_ERROR_INVALID_VALUE;
    range = it->second;
    ranges_.erase(it);
    if (range.mapped != 0) mapped_count_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (range.mapped == 0) munmap(ptr, range.bytes);
  if (mapped != nullptr) *mapped = range.mapped;
  return CUDA_SUCCESS;
}

CUresult PinnedMemory::Register(void* ptr, std::size_t bytes, unsigned flags) {
  if (ptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  constexpr unsigned kKnown = CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP |
                              CU_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY;
  if ((flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(mu_);
  if (Overlaps(ranges_, static_cast<const char*>(ptr), bytes, [](const Range& r) { return r.bytes; }))
    return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
  ranges_[static_cast<const char*>(ptr)] = Range{bytes, flags, false, 0};
  return CUDA_SUCCESS;
}

CUresult PinnedMemory::Unregister(void* ptr) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ranges_.find(static_cast<const char*>(ptr));
  if (it == ranges_.end() || it->second.owned) return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
  ranges_.erase(it);
  return CUDA_SUCCESS;
}

const std::pair<const char* const, PinnedMemory::Range>* PinnedMemory::FindLocked(const void* ptr) const {
  const char* p = static_cast<const char*>(ptr);
  auto it = ranges_.upper_bound(p);
  if (it == ranges_.begin()) return nullptr;
  --it;
  return p < it->first + it->second.bytes ? &*it : nullptr;
}

bool PinnedMemory::Find(const void* ptr, unsigned* flags, bool* mapped) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto* range = FindLocked(ptr);
  if (range == nullptr) return false;
  if (flags != nullptr) *flags = range->second.flags;
  if (mapped != nullptr) *mapped = range->second.mapped != 0;
  return true;
}

const std::pair<const char* const, PinnedMemory::Range>* PinnedMemory::CoveringLocked(
    const void* ptr, std::size_t bytes) const {
  const auto* range = FindLocked(ptr);
  if (range == nullptr) return nullptr;
  const std::size_t offset = static_cast<std::size_t>(static_cast<const char*>(ptr) - range->first);
  return bytes <= range->second.bytes - offset ? range : nullptr;
}

bool PinnedMemory::Covers(const void* ptr, std::size_t bytes) const {
  std::lock_guard<std::mutex> lock(mu_);
  return CoveringLocked(ptr, bytes) != nullptr;
}

bool PinnedMemory::CoversMapped(const void* ptr, std::size_t bytes) const {
  // Every copy asks, and most processes never have mapped memory: no lock for them.
  if (mapped_count_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  const auto* range = CoveringLocked(ptr, bytes);
  return range != nullptr && range->second.mapped != 0;
}

}  // namespace gpupool::client
