#include "remoting/client/mem_pool.h"

#include <algorithm>
#include <cstring>

namespace gpupool::client {

bool MemPool::TakeFree(std::uint64_t bytes, const StreamKey& stream, Reuse* out) {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t best = free_.size();
  bool best_wait = false;
  for (std::size_t i = 0; i < free_.size(); ++i) {
    const FreeBlock& b = free_[i];
    // At most twice the request: a small allocation must not pin a large block.
    if (b.bytes < bytes || b.bytes / 2 > bytes) continue;
    bool wait = false;
    if (b.stream == stream) {
    } else if (b.complete && opportunistic_) {
    } else if (internal_dependencies_ && b.stream.context == stream.context) {
      wait = true;
    } else {
      continue;
    }
    // Smallest block first; among equals, one that needs no wait.
    if (best == free_.size() || b.bytes < free_[best].bytes ||
        (b.bytes == free_[best].bytes && best_wait && !wait)) {
      best = i;
      best_wait = wait;
    }
  }
  if (best == free_.size()) return false;
  const FreeBlock b = free_[best];
  free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
  used_[b.ptr] = b.bytes;
  used_bytes_ += b.bytes;
  used_high_ = std::max(used_high_, used_bytes_);
  *out = {b.ptr, b.bytes, b.event, b.stream.context, best_wait, {b.stream, b.ticket + 1}};
  return true;
}

bool MemPool::Fits(std::uint64_t bytes) const {
  std::lock_guard<std::mutex> lock(mu_);
  return max_size_ == 0 || (bytes <= max_size_ && reserved_bytes_ <= max_size_ - bytes);
}

void MemPool::AddUsed(CUdeviceptr ptr, std::uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  used_[ptr] = bytes;
  used_bytes_ += bytes;
  reserved_bytes_ += bytes;
  used_high_ = std::max(used_high_, used_bytes_);
  reserved_high_ = std::max(reserved_high_, reserved_bytes_);
}

bool MemPool::Free(CUdeviceptr ptr, const StreamKey& stream, std::uint64_t event, std::uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = used_.find(ptr);
  if (it == used_.end()) return false;
  free_.push_back({ptr, it->second, stream, event, seq, 0, false});
  used_bytes_ -= it->second;
  used_.erase(it);
  return true;
}

bool MemPool::InUse(CUdeviceptr ptr) const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_.count(ptr) != 0;
}

bool MemPool::Forget(CUdeviceptr ptr, std::uint64_t* bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = used_.find(ptr);
  if (it == used_.end()) return false;
  *bytes = it->second;
  used_bytes_ -= it->second;
  reserved_bytes_ -= it->second;
  used_.erase(it);
  return true;
}

void MemPool::MarkComplete(std::uint64_t context, const StreamKey* stream, std::uint64_t below) {
  std::lock_guard<std::mutex> lock(mu_);
  for (FreeBlock& b : free_) {
    if (b.seq >= below || b.stream.context != context) continue;
    if (stream == nullptr || b.stream == *stream) b.complete = true;
  }
}

void MemPool::SetFreeTicket(CUdeviceptr ptr, std::uint64_t ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  for (FreeBlock& b : free_) {
    if (b.ptr == ptr) b.ticket = ticket;
  }
}

std::vector<MemPool::PendingFree> MemPool::PendingFrees() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PendingFree> pending;
  for (const FreeBlock& b : free_) {
    if (!b.complete) pending.push_back({b.event, b.stream, b.ticket});
  }
  return pending;
}

void MemPool::MarkEventComplete(std::uint64_t event) {
  std::lock_guard<std::mutex> lock(mu_);
  for (FreeBlock& b : free_) {
    if (b.event == event) b.complete = true;
  }
}

std::vector<MemPool::Released> MemPool::Trim(std::uint64_t keep) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Released> released;
  std::sort(free_.begin(), free_.end(),
            [](const FreeBlock& a, const FreeBlock& b) { return a.bytes > b.bytes; });
  for (auto it = free_.begin(); it != free_.end() && reserved_bytes_ > keep;) {
    if (!it->complete) {
      ++it;
      continue;
    }
    reserved_bytes_ -= it->bytes;
    released.push_back({it->ptr, it->stream.context, it->event});
    it = free_.erase(it);
  }
  return released;
}

bool MemPool::HasFree() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !free_.empty();
}

std::vector<CUdeviceptr> MemPool::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<CUdeviceptr> dropped;
  for (const auto& [ptr, bytes] : used_) dropped.push_back(ptr);
  for (const FreeBlock& b : free_) dropped.push_back(b.ptr);
  used_.clear();
  free_.clear();
  used_bytes_ = reserved_bytes_ = 0;
  return dropped;
}

std::uint64_t MemPool::release_threshold() const {
  std::lock_guard<std::mutex> lock(mu_);
  return release_threshold_;
}

CUresult MemPool::GetAttribute(CUmemPool_attribute attribute, void* value) const {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(mu_);
  auto put_int = [value](bool v) {
    const int i = v ? 1 : 0;
    std::memcpy(value, &i, sizeof i);
    return CUDA_SUCCESS;
  };
  auto put_u64 = [value](std::uint64_t v) {
    const cuuint64_t u = v;
    std::memcpy(value, &u, sizeof u);
    return CUDA_SUCCESS;
  };
  switch (attribute) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES: return put_int(follow_event_dependencies_);
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC: return put_int(opportunistic_);
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: return put_int(internal_dependencies_);
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: return put_u64(release_threshold_);
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT: return put_u64(reserved_bytes_);
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH: return put_u64(reserved_high_);
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT: return put_u64(used_bytes_);
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH: return put_u64(used_high_);
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult MemPool::SetAttribute(CUmemPool_attribute attribute, const void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(mu_);
  cuuint64_t u = 0;
  auto set_flag = [value](bool* flag) {
    int i = 0;
    std::memcpy(&i, value, sizeof i);
    *flag = i != 0;
    return CUDA_SUCCESS;
  };
  switch (attribute) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES: return set_flag(&follow_event_dependencies_);
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC: return set_flag(&opportunistic_);
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: return set_flag(&internal_dependencies_);
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
      std::memcpy(&u, value, sizeof u);
      release_threshold_ = u;
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
      // Only a reset to zero is allowed; the mark restarts at the current value.
      std::memcpy(&u, value, sizeof u);
      if (u != 0) return CUDA_ERROR_INVALID_VALUE;
      if (attribute == CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH) {
        reserved_high_ = reserved_bytes_;
      } else {
        used_high_ = used_bytes_;
      }
      return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;  // the current values are read-only
  }
}

CUmemAccess_flags MemPool::PeerAccess(int device) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peer_access_.find(device);
  return it == peer_access_.end() ? CU_MEM_ACCESS_FLAGS_PROT_NONE : it->second;
}

void MemPool::SetPeerAccess(int device, CUmemAccess_flags flags) {
  std::lock_guard<std::mutex> lock(mu_);
  peer_access_[device] = flags;
}

}  // namespace gpupool::client
