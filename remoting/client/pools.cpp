#include "remoting/client/pools.h"

#include "remoting/client/api_support.h"
#include "remoting/client/server_events.h"

namespace gpupool::client {
namespace {

constexpr std::uint64_t kAlignment = 256;  // what cuMemAlloc guarantees

}  // namespace

Pools& Pools::Get() {
  static auto* pools = new Pools;  // never destroyed: runtimes free memory from atexit handlers
  return *pools;
}

MemPool* Pools::Create(int device, std::uint64_t max_size) {
  std::lock_guard<std::mutex> lock(mu_);
  all_.push_back(std::make_unique<MemPool>(device, max_size));
  live_.insert(all_.back().get());
  return all_.back().get();
}

MemPool* Pools::Default(int device) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = default_.find(device);
    if (it != default_.end()) return it->second;
  }
  MemPool* pool = Create(device, 0);
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = default_.emplace(device, pool);
  if (!inserted) live_.erase(pool);  // another thread made it first; this one stays unused
  return it->second;
}

MemPool* Pools::Current(int device) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = current_.find(device);
    if (it != current_.end()) return it->second;
  }
  return Default(device);
}

void Pools::SetCurrent(int device, MemPool* pool) {
  std::lock_guard<std::mutex> lock(mu_);
  current_[device] = pool;
}

MemPool* Pools::Find(const void* handle) {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.count(handle) != 0 ? const_cast<MemPool*>(static_cast<const MemPool*>(handle)) : nullptr;
}

CUresult Pools::Destroy(const void* handle) {
  MemPool* pool = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (live_.count(handle) == 0) return CUDA_ERROR_INVALID_VALUE;
    pool = const_cast<MemPool*>(static_cast<const MemPool*>(handle));
    for (const auto& [device, p] : default_) {
      if (p == pool) return CUDA_ERROR_INVALID_VALUE;  // a device's default pool stays
    }
    live_.erase(handle);
    for (auto it = current_.begin(); it != current_.end();) {
      it = it->second == pool ? current_.erase(it) : std::next(it);  // back to the default pool
    }
  }
  // What is free and complete goes back now, the rest after the synchronisation that completes it.
  return TrimTo(pool, 0);
}

CUresult Pools::Allocate(MemPool* pool, std::uint64_t bytes, CUstream stream, std::uint64_t context,
                         std::uint64_t wire, CUdeviceptr* ptr) {
  // Captured allocations are graph memory (api_mem_pool.cpp, graph_memory.h), never pool blocks.
  if (CaptureOf(stream) != nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (bytes > UINT64_MAX - kAlignment) return CUDA_ERROR_OUT_OF_MEMORY;
  const std::uint64_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  MemPool::Reuse reuse;
  if (pool->TakeFree(rounded, {context, wire}, &reuse)) {
    const std::uint64_t event = reuse.free_event, event_context = reuse.event_context;
    // The event goes back in stream order, after the free's record (which may still be queued
    // behind a host function) and after the wait that reads it.
    std::vector<StreamDep> deps;
    if (reuse.wait) deps.push_back(reuse.recorded);
    CUresult r = SubmitOp(
        CU_GRAPH_NODE_TYPE_WAIT_EVENT, stream, context, wire,
        [=, wait = reuse.wait](std::uint64_t on) {
          CUresult result = CUDA_SUCCESS;
          if (wait) result = Rpc<Op::StreamWaitEvent>(context, {on, event, 0});
          GiveServerEvent(event_context, event);
          return result;
        },
        std::move(deps));
    if (r != CUDA_SUCCESS) return r;
    *ptr = reuse.ptr;
    State::Get().AddAllocation(reuse.ptr, reuse.bytes);
    return CUDA_SUCCESS;
  }
  if (!pool->Fits(rounded)) return CUDA_ERROR_OUT_OF_MEMORY;
  protocol::Call<Op::MemAlloc>::Reply reply;
  CUresult r = Rpc<Op::MemAlloc>(context, {rounded}, &reply);
  if (r == CUDA_ERROR_OUT_OF_MEMORY) {
    // Over the session's share: what the pools hold idle goes back first, as CUDA's pools do.
    std::vector<MemPool*> pools;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& p : all_) pools.push_back(p.get());
    }
    for (MemPool* p : pools) Release(p->Trim(0));
    r = Rpc<Op::MemAlloc>(context, {rounded}, &reply);
  }
  if (r != CUDA_SUCCESS) return r;
  *ptr = std::get<0>(reply);
  pool->AddUsed(*ptr, rounded);
  {
    std::lock_guard<std::mutex> lock(mu_);
    blocks_[*ptr] = pool;
  }
  State::Get().AddAllocation(*ptr, rounded);
  return CUDA_SUCCESS;
}

CUresult Pools::FreeAsync(CUdeviceptr ptr, CUstream stream, std::uint64_t context, std::uint64_t wire) {
  // A graph's free node frees graph memory only: a pool block cannot be freed by a capture.
  if (CaptureOf(stream) != nullptr) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  MemPool* pool = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blocks_.find(ptr);
    if (it == blocks_.end()) return CUDA_ERROR_INVALID_VALUE;
    pool = it->second;
  }
  std::uint64_t event = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(TakeServerEvent(context, &event));
  if (!pool->Free(ptr, {context, wire}, event, seq_.fetch_add(1, std::memory_order_acq_rel))) {
    GiveServerEvent(context, event);
    return CUDA_ERROR_INVALID_VALUE;  // already freed
  }
  State::Get().RemoveAllocation(ptr);
  maybe_free_.store(true, std::memory_order_release);
  std::uint64_t ticket = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(SubmitOp(
      CU_GRAPH_NODE_TYPE_EVENT_RECORD, stream, context, wire,
      [=](std::uint64_t on) {
        return Rpc<Op::EventRecord>(context, {event, on});
      },
      {}, &ticket));
  if (ticket != 0) pool->SetFreeTicket(ptr, ticket);
  return CUDA_SUCCESS;
}

bool Pools::Forget(CUdeviceptr ptr) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = blocks_.find(ptr);
  std::uint64_t bytes = 0;
  if (it == blocks_.end() || !it->second->Forget(ptr, &bytes)) return false;
  blocks_.erase(it);
  return true;
}

bool Pools::IsBlock(CUdeviceptr base) {
  return PoolOf(base) != nullptr;
}

MemPool* Pools::PoolOf(CUdeviceptr base) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = blocks_.find(base);
  return it != blocks_.end() ? it->second : nullptr;
}

void Pools::Release(const std::vector<MemPool::Released>& blocks) {
  for (const MemPool::Released& b : blocks) {
    (void)RpcPastLatched<Op::MemFree>(b.context, {b.ptr});
    GiveServerEvent(b.context, b.event);
    std::lock_guard<std::mutex> lock(mu_);
    blocks_.erase(b.ptr);
  }
}

void Pools::AfterSync(std::uint64_t context, const StreamKey* stream, std::uint64_t seq) {
  if (!maybe_free_.load(std::memory_order_acquire)) return;
  maybe_free_.store(false, std::memory_order_release);
  std::vector<std::pair<MemPool*, bool>> pools;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& p : all_) pools.emplace_back(p.get(), live_.count(p.get()) != 0);
  }
  for (auto [pool, live] : pools) {
    pool->MarkComplete(context, stream, seq);
    Release(pool->Trim(live ? pool->release_threshold() : 0));
    if (pool->HasFree()) maybe_free_.store(true, std::memory_order_release);
  }
}

void Pools::ForgetDevice(int device) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& pool : all_) {
    if (pool->device() != device) continue;
    for (CUdeviceptr ptr : pool->Clear()) blocks_.erase(ptr);
  }
}

CUresult Pools::TrimTo(MemPool* pool, std::uint64_t keep) {
  // Frees not known complete are asked about (one query each); those done may go.
  for (const MemPool::PendingFree& p : pool->PendingFrees()) {
    if (!State::Get().order.Done(p.stream, p.ticket + 1)) continue;  // its record is not even sent
    if (RpcPastLatched<Op::EventQuery>(p.stream.context, {p.event}) == CUDA_SUCCESS) {
      pool->MarkEventComplete(p.event);
    }
  }
  Release(pool->Trim(keep));
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
