// DeviceMemory: lazily backed host mapping plus a first-fit, coalescing allocator; mappable blocks
// in a memfd.
#include "remoting/server/emulated/device_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <vector>

#include "common/address_ranges.h"

namespace gpupool::server::emulated {

Result<std::unique_ptr<DeviceMemory>> DeviceMemory::Create(CUdeviceptr base, std::uint64_t capacity) {
  if (capacity == 0 || capacity % kAlignment != 0) {
    return Status::InvalidArgument("emulated device memory must be a positive multiple of 256 bytes");
  }
  void* host =
      mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (host == MAP_FAILED) {
    return Status::ResourceExhausted("mmap of " + std::to_string(capacity) +
                                     " bytes for emulated device memory: " + std::strerror(errno));
  }
  // Transparent huge pages where the kernel offers them: a first touch then faults 2 MiB at a time
  // instead of 4 KiB (first-touch copies were page-fault bound). Lazy backing is unchanged; a
  // failure (THP disabled) only costs speed.
  (void)madvise(host, capacity, MADV_HUGEPAGE);
  std::unique_ptr<DeviceMemory> memory(new DeviceMemory(base, capacity, static_cast<std::byte*>(host)));
  memory->free_.emplace(0, capacity);
  return memory;
}

DeviceMemory::~DeviceMemory() {
  munmap(host_, capacity_);
  if (memfd_ >= 0) close(memfd_);
}

CUresult DeviceMemory::Allocate(std::uint64_t bytes, CUdeviceptr* address) {
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  if (bytes > capacity_) return CUDA_ERROR_OUT_OF_MEMORY;
  const std::uint64_t reserved = (bytes + kPage - 1) / kPage * kPage;
  std::uint64_t offset = 0;
  if (!Take(reserved, kPage, &offset)) return CUDA_ERROR_OUT_OF_MEMORY;
  allocations_.emplace(offset, Block{bytes, reserved, /*mappable=*/false, /*shared=*/false});
  *address = base_ + offset;
  return CUDA_SUCCESS;
}

CUresult DeviceMemory::AllocateMappable(std::uint64_t bytes, std::uint64_t alignment, std::uint64_t* offset) {
  if (bytes == 0 || alignment < kAlignment || (alignment & (alignment - 1)) != 0)
    return CUDA_ERROR_INVALID_VALUE;
  if (bytes > capacity_) return CUDA_ERROR_OUT_OF_MEMORY;
  if (!EnsureMemfd()) return CUDA_ERROR_OUT_OF_MEMORY;
  const std::uint64_t reserved = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (!Take(reserved, alignment, offset)) return CUDA_ERROR_OUT_OF_MEMORY;
  allocations_.emplace(*offset, Block{bytes, reserved, /*mappable=*/true, /*shared=*/false});
  return CUDA_SUCCESS;
}

bool DeviceMemory::EnsureMemfd() {
  if (memfd_ >= 0) return true;
  // Sparse: a tmpfs file of the device's size holds only the pages written.
  const int fd = memfd_create("gpupool-emulated-device", MFD_CLOEXEC);
  if (fd < 0) return false;
  if (ftruncate(fd, static_cast<off_t>(capacity_)) != 0) {
    close(fd);
    return false;
  }
  memfd_ = fd;
  return true;
}

CUresult DeviceMemory::Share(CUdeviceptr address, std::uint64_t* offset, std::uint64_t* bytes) {
  CUdeviceptr start = 0;
  std::uint64_t size = 0;
  if (!Find(address, &start, &size)) return CUDA_ERROR_INVALID_VALUE;
  Block& block = allocations_.at(start - base_);
  *offset = start - base_;
  *bytes = block.reserved;
  if (block.shared) return CUDA_SUCCESS;
  if (!EnsureMemfd()) return CUDA_ERROR_OUT_OF_MEMORY;
  // Only the pages ever touched are copied: the others read as zeros in the memfd too.
  std::byte* host = host_ + *offset;
  std::vector<unsigned char> resident(block.reserved / kPage);
  if (mincore(host, block.reserved, resident.data()) != 0) std::fill(resident.begin(), resident.end(), 1);
  for (std::size_t page = 0; page < resident.size(); ++page) {
    if ((resident[page] & 1) == 0) continue;
    const off_t at = static_cast<off_t>(*offset + page * kPage);
    if (pwrite(memfd_, host + page * kPage, kPage, at) != static_cast<ssize_t>(kPage))
      return CUDA_ERROR_OUT_OF_MEMORY;
  }
  if (mmap(host, block.reserved, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd_,
           static_cast<off_t>(*offset)) == MAP_FAILED)
    return CUDA_ERROR_OUT_OF_MEMORY;  // the anonymous pages are still there: nothing changed
  block.shared = true;
  return CUDA_SUCCESS;
}

bool DeviceMemory::Take(std::uint64_t reserved, std::uint64_t alignment, std::uint64_t* offset) {
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    const std::uint64_t start = it->first, bytes = it->second;
    const std::uint64_t aligned = (start + alignment - 1) & ~(alignment - 1);
    if (aligned < start || aligned - start > bytes || bytes - (aligned - start) < reserved) continue;
    const std::uint64_t rest = bytes - (aligned - start) - reserved;
    free_.erase(it);
    if (aligned > start) free_.emplace(start, aligned - start);  // the padding stays free
    if (rest > 0) free_.emplace(aligned + reserved, rest);
    used_ += reserved;
    *offset = aligned;
    return true;
  }
  return false;
}

CUresult DeviceMemory::Free(CUdeviceptr address) {
  if (!InRange(address)) return CUDA_ERROR_INVALID_VALUE;
  auto it = allocations_.find(address - base_);
  if (it == allocations_.end() || it->second.mappable) return CUDA_ERROR_INVALID_VALUE;
  const std::uint64_t offset = it->first, bytes = it->second.reserved;
  const bool shared = it->second.shared;
  allocations_.erase(it);
  if (shared) {
    // Private memory again (zeros), and the memfd's pages go: processes that still map them read
    // zeros from now on (freeing memory another process has open is undefined in CUDA too).
    (void)mmap(host_ + offset, bytes, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    (void)fallocate(memfd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(bytes));
  } else {
    ReleasePages(offset, bytes);
  }
  Give(offset, bytes);
  return CUDA_SUCCESS;
}

void DeviceMemory::FreeMappable(std::uint64_t offset) {
  auto it = allocations_.find(offset);
  if (it == allocations_.end() || !it->second.mappable) return;
  const std::uint64_t bytes = it->second.reserved;
  allocations_.erase(it);
  // A failed punch only leaves the pages resident until the range is written again.
  (void)fallocate(memfd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(bytes));
  Give(offset, bytes);
}

void DeviceMemory::Give(std::uint64_t offset, std::uint64_t bytes) {
  used_ -= bytes;
  InsertCoalesced(free_, offset, bytes);
}

// Gives whole pages inside a freed block back to the kernel, so freed memory stops counting
// towards the process's RSS (and a later allocation starts from zero-filled pages).
void DeviceMemory::ReleasePages(std::uint64_t offset, std::uint64_t bytes) {
  static const std::uint64_t page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  const std::uint64_t start = (offset + page - 1) / page * page;
  const std::uint64_t end = (offset + bytes) / page * page;
  if (end > start) madvise(host_ + start, end - start, MADV_DONTNEED);
}

bool DeviceMemory::Find(CUdeviceptr address, CUdeviceptr* start, std::uint64_t* size) const {
  if (!InRange(address)) return false;
  auto it = RangeHolding(allocations_, address - base_, [](const Block& b) { return b.requested; });
  if (it == allocations_.end() || it->second.mappable) return false;
  *start = base_ + it->first;
  *size = it->second.requested;
  return true;
}

std::byte* DeviceMemory::Resolve(CUdeviceptr address, std::uint64_t bytes) const {
  CUdeviceptr start = 0;
  std::uint64_t size = 0;
  if (!Find(address, &start, &size)) return nullptr;
  const std::uint64_t into = address - start;
  if (bytes > size - into) return nullptr;  // past the allocation's end (no overflow: into < size)
  return host_ + (address - base_);
}

}  // namespace gpupool::server::emulated
