#include "remoting/client/graph_memory.h"

#include <algorithm>

#include "remoting/client/api_support.h"

namespace gpupool::client {

GraphAllocHold::~GraphAllocHold() {
  GraphMemory::Get().Drop(ptr);
}

GraphMemory& GraphMemory::Get() {
  static auto* memory = new GraphMemory();  // never destroyed: graphs may be dropped at exit
  return *memory;
}

CUresult GraphMemory::Allocate(std::uint64_t context, int device, std::uint64_t bytes, CUdeviceptr* ptr,
                               std::shared_ptr<const GraphAllocHold>* hold) {
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  protocol::Call<Op::MemAlloc>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MemAlloc>(context, {bytes}, &reply));
  *ptr = std::get<0>(reply);
  State::Get().AddAllocation(*ptr, bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    entries_[*ptr] = Entry{context, device, bytes};
    Totals& t = totals_[device];
    t.current += bytes;
    t.used_high = std::max(t.used_high, t.current);
    t.reserved_high = std::max(t.reserved_high, t.current);
  }
  auto h = std::make_shared<GraphAllocHold>();
  h->ptr = *ptr;
  *hold = std::move(h);
  return CUDA_SUCCESS;
}

bool GraphMemory::Contains(CUdeviceptr ptr) const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.count(ptr) != 0;
}

bool GraphMemory::Allocated(CUdeviceptr ptr) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(ptr);
  return it != entries_.end() && it->second.allocated;
}

void GraphMemory::MarkAllocated(CUdeviceptr ptr) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(ptr);
  if (it != entries_.end()) it->second.allocated = true;
}

bool GraphMemory::MarkFreed(CUdeviceptr ptr) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = entries_.find(ptr);
  if (it == entries_.end() || !it->second.allocated) return false;
  it->second.allocated = false;
  ReleaseIfUnused(lock, ptr);
  return true;
}

void GraphMemory::Drop(CUdeviceptr ptr) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = entries_.find(ptr);
  if (it == entries_.end()) return;
  it->second.held = false;
  ReleaseIfUnused(lock, ptr);
}

void GraphMemory::ReleaseIfUnused(std::unique_lock<std::mutex>& lock, CUdeviceptr ptr) {
  auto it = entries_.find(ptr);
  if (it->second.held || it->second.allocated) return;
  const Entry entry = it->second;
  entries_.erase(it);
  totals_[entry.device].current -= entry.bytes;
  lock.unlock();
  // Work the client still holds for the context may use the memory: it goes out first.
  State::Get().order.DrainContext(entry.context, false);
  (void)RpcPastLatched<Op::MemFree>(entry.context, {ptr});
  State::Get().RemoveAllocation(ptr);
}

CUresult GraphMemory::GetAttribute(int device, CUgraphMem_attribute attribute, std::uint64_t* value) const {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = totals_.find(device);
  const Totals t = it != totals_.end() ? it->second : Totals{};
  switch (attribute) {
    // Each allocation holds its own memory: what graphs use is what they reserve.
    case CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT:
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT: *value = t.current; return CUDA_SUCCESS;
    case CU_GRAPH_MEM_ATTR_USED_MEM_HIGH: *value = t.used_high; return CUDA_SUCCESS;
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH: *value = t.reserved_high; return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult GraphMemory::SetAttribute(int device, CUgraphMem_attribute attribute, std::uint64_t value) {
  if (value != 0) return CUDA_ERROR_INVALID_VALUE;  // a high watermark can only be reset
  std::lock_guard<std::mutex> lock(mu_);
  Totals& t = totals_[device];
  switch (attribute) {
    case CU_GRAPH_MEM_ATTR_USED_MEM_HIGH: t.used_high = t.current; return CUDA_SUCCESS;
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH: t.reserved_high = t.current; return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

}  // namespace gpupool::client
