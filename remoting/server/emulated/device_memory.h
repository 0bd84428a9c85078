// DeviceMemory: one emulated GPU's memory, in host RAM.
//
// One anonymous mmap with MAP_NORESERVE reserves the device's whole capacity, so a 16 GiB device
// costs nothing until pages are touched; freed ranges are returned to the kernel (MADV_DONTNEED).
// Device addresses are `base + offset`, with a base far from the host mapping, so a device pointer
// is never a usable host pointer. A first-fit allocator over a free list (coalescing on free) hands
// out 256-byte-aligned blocks; running out of capacity is CUDA_ERROR_OUT_OF_MEMORY.
//
// Physical memory of the virtual memory calls (cuMemCreate, virtual_memory.h) takes its capacity from
// the same allocator, as "mappable" blocks: aligned, invisible to Find/Resolve/Free (their device
// address is no device pointer), with their bytes in a memfd of the device's capacity (created at the
// first such block, sparse) at the block's offset, so that they can be mmap'ed at any host address,
// several times. The anonymous mapping above stays for cuMemAlloc: its huge pages are what copy
// speed depends on.
//
// cuMemAlloc blocks are page-aligned and whole pages, so that one can be shared with another process
// (cuIpcGetMemHandle, Share): its bytes move to the memfd at the block's own offset (no mappable block
// is ever there) and the memfd is mapped over the block's pages in the anonymous mapping, so the
// block's host and device addresses stay the same. Freeing it puts anonymous memory back.
//
// Thread-safety: none; the emulator's state mutex guards every call.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

#include "common/status.h"

namespace gpupool::server::emulated {

class DeviceMemory {
 public:
  static constexpr std::uint64_t kAlignment = 256;  // of mappable blocks at least
  static constexpr std::uint64_t kPage = 4096;      // of cuMemAlloc blocks

  static Result<std::unique_ptr<DeviceMemory>> Create(CUdeviceptr base, std::uint64_t capacity);
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  // CUDA_ERROR_INVALID_VALUE for 0 bytes, CUDA_ERROR_OUT_OF_MEMORY when no free block fits.
  CUresult Allocate(std::uint64_t bytes, CUdeviceptr* address);
  // The address must be the start of a live allocation (else CUDA_ERROR_INVALID_VALUE).
  CUresult Free(CUdeviceptr address);
  // A mappable block of `bytes` at an `alignment`-aligned (power of two, >= kAlignment) offset of
  // mappable_fd(); CUDA_ERROR_OUT_OF_MEMORY when no free block fits or the memfd cannot be made.
  CUresult AllocateMappable(std::uint64_t bytes, std::uint64_t alignment, std::uint64_t* offset);
  // Frees a mappable block and returns its pages to the kernel (its bytes read as zeros again).
  void FreeMappable(std::uint64_t offset);
  // The memfd behind mappable blocks; -1 before the first one.
  int mappable_fd() const { return memfd_; }
  // Makes the live allocation containing `address` shareable with other processes (once; later calls
  // answer the same): its pages become the memfd's range [*offset, *offset + *bytes) (whole pages).
  // CUDA_ERROR_INVALID_VALUE for no allocation, CUDA_ERROR_OUT_OF_MEMORY when the memfd fails.
  CUresult Share(CUdeviceptr address, std::uint64_t* offset, std::uint64_t* bytes);
  // The live allocation containing `address`: its start and requested size.
  bool Find(CUdeviceptr address, CUdeviceptr* start, std::uint64_t* size) const;
  // Host memory behind [address, address + bytes) when the range lies in one live allocation.
  std::byte* Resolve(CUdeviceptr address, std::uint64_t bytes) const;

  bool InRange(CUdeviceptr address) const { return address >= base_ && address - base_ < capacity_; }
  CUdeviceptr base() const { return base_; }
  std::uint64_t capacity() const { return capacity_; }
  std::uint64_t free_bytes() const { return capacity_ - used_; }
  std::size_t allocation_count() const { return allocations_.size(); }

 private:
  DeviceMemory(CUdeviceptr base, std::uint64_t capacity, std::byte* host)
      : base_(base), capacity_(capacity), host_(host) {}
  // First fit of `reserved` bytes at an `alignment`-aligned offset; false when none fits.
  bool Take(std::uint64_t reserved, std::uint64_t alignment, std::uint64_t* offset);
  // Returns a block to the free list, coalesced with its free neighbours.
  void Give(std::uint64_t offset, std::uint64_t bytes);
  // The memfd of the device's capacity (sparse), made on first use; false when it cannot be.
  bool EnsureMemfd();
  void ReleasePages(std::uint64_t offset, std::uint64_t bytes);

  CUdeviceptr base_;
  std::uint64_t capacity_;
  std::byte* host_;
  int memfd_ = -1;                               // mappable blocks' bytes
  std::uint64_t used_ = 0;                       // reserved bytes (rounded sizes)
  std::map<std::uint64_t, std::uint64_t> free_;  // offset -> bytes, coalesced
  struct Block {
    std::uint64_t requested;
    std::uint64_t reserved;
    bool mappable;  // AllocateMappable's: not a device pointer
    bool shared;    // Share moved its pages to the memfd
  };
  std::map<std::uint64_t, Block> allocations_;  // offset -> block
};

}  // namespace gpupool::server::emulated
