#include "remoting/server/deferred_copies.h"

#include "common/log.h"
#include "remoting/protocol/call_io.h"
#include "remoting/protocol/codec.h"
#include "remoting/server/packed_rows.h"

namespace gpupool::server {

DeferredCopies::~DeferredCopies() {
  Detach();
}

void DeferredCopies::ShareStaging(SharedMemory staging) {
  staging_ = std::move(staging);
  registered_ = register_failed_ = false;
}

std::byte* DeferredCopies::SharedSlot(std::uint32_t slot) const {
  return static_cast<std::byte*>(staging_.data()) + protocol::kStagingHeaderBytes +
         std::size_t{slot} * protocol::kStagingSlotBytes;
}

bool DeferredCopies::RegisterStaging() {
  if (registered_) return true;
  if (register_failed_ || staging_.data() == nullptr || api_.cuMemHostRegister_v2 == nullptr) return false;
  // Portable: a copy on any of the session's contexts may write it. Unregistered, a copy into it
  // would be synchronous: the worker would wait for the stream, as without deferral.
  const CUresult r =
      api_.cuMemHostRegister_v2(staging_.data(), protocol::kStagingBytes, CU_MEMHOSTREGISTER_PORTABLE);
  if (r != CUDA_SUCCESS) {
    GPUPOOL_LOG(kWarn) << "deferred copies use the socket: the driver would not register the shared staging ("
                       << r << ")";
    register_failed_ = true;
    return false;
  }
  registered_ = true;
  return true;
}

std::byte* DeferredCopies::Stage(Copy& copy) {
  if (RegisterStaging()) {
    const auto* header = static_cast<const protocol::StagingHeader*>(staging_.data());
    for (std::uint32_t i = 0; i < protocol::kStagingSlots; ++i) {
      if (slot_used_[i] || header->held[i].load(std::memory_order_acquire) != 0) continue;
      slot_used_[i] = true;
      copy.slot = i + 1;
      return SharedSlot(i);
    }
  }
  if (!free_pinned_.empty()) {
    copy.pinned = free_pinned_.back();
    free_pinned_.pop_back();
    return copy.pinned;
  }
  void* buffer = nullptr;
  if (api_.cuMemHostAlloc == nullptr ||
      api_.cuMemHostAlloc(&buffer, protocol::kChunkSize, CU_MEMHOSTALLOC_PORTABLE) != CUDA_SUCCESS)
    return nullptr;
  copy.pinned = static_cast<std::byte*>(buffer);
  return copy.pinned;
}

template <typename Enqueue>
CUresult DeferredCopies::Begin(const protocol::FrameHeader& request, std::size_t size, CUstream stream,
                               Enqueue enqueue) {
  if (size > protocol::kChunkSize) return CUDA_ERROR_INVALID_VALUE;
  if (copies_.size() >= protocol::kMaxDeferredCopies) return CUDA_ERROR_OUT_OF_MEMORY;
  Copy copy;
  copy.request = request;
  copy.size = size;
  std::byte* target = Stage(copy);
  if (target != nullptr && api_.cuEventCreate != nullptr && api_.cuEventRecord != nullptr &&
      api_.cuEventCreate(&copy.done, CU_EVENT_DISABLE_TIMING) == CUDA_SUCCESS) {
    CUresult r = enqueue(target);
    if (r == CUDA_SUCCESS) r = api_.cuEventRecord(copy.done, stream);
    if (r != CUDA_SUCCESS) {
      Release(copy);
      return r;
    }
    copies_.push_back(std::move(copy));
    return CUDA_SUCCESS;
  }
  // No staging or event to be had: the copy is made now, into ordinary memory (a copy to pageable
  // memory returns once it is done), and answered with the next synchronisation as well.
  Release(copy);
  copy.bytes.resize(size);
  CUresult r = enqueue(reinterpret_cast<std::byte*>(copy.bytes.data()));
  if (r == CUDA_SUCCESS && api_.cuStreamSynchronize != nullptr) r = api_.cuStreamSynchronize(stream);
  if (r != CUDA_SUCCESS) return r;
  copies_.push_back(std::move(copy));
  return CUDA_SUCCESS;
}

CUresult DeferredCopies::Start(const protocol::FrameHeader& request, CUdeviceptr src, std::size_t size,
                               CUstream stream) {
  if (api_.cuMemcpyDtoHAsync_v2 == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  return Begin(request, size, stream,
               [&](std::byte* target) { return api_.cuMemcpyDtoHAsync_v2(target, src, size, stream); });
}

CUresult DeferredCopies::StartRows(const protocol::FrameHeader& request, CUdeviceptr src, std::size_t pitch,
                                   std::size_t width, std::size_t height, CUstream stream) {
  if (api_.cuMemcpy2DAsync_v2 == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  if (width == 0 || height == 0 || width > protocol::kChunkSize / height) return CUDA_ERROR_INVALID_VALUE;
  return Begin(request, width * height, stream, [&](std::byte* target) {
    const CUDA_MEMCPY2D copy = PackedRowsFromDevice(src, pitch, width, height, target);
    return api_.cuMemcpy2DAsync_v2(&copy, stream);
  });
}

bool DeferredCopies::Finished(Copy& copy, bool wait) {
  if (copy.done == nullptr) return true;
  const CUresult r = wait ? api_.cuEventSynchronize(copy.done) : api_.cuEventQuery(copy.done);
  if (r == CUDA_ERROR_NOT_READY) return false;
  copy.result = r;
  return true;
}

void DeferredCopies::DropEvent(Copy& copy) {
  if (copy.done != nullptr && api_.cuEventDestroy_v2 != nullptr) (void)api_.cuEventDestroy_v2(copy.done);
  copy.done = nullptr;
}

void DeferredCopies::Release(Copy& copy) {
  DropEvent(copy);
  if (copy.pinned != nullptr) free_pinned_.push_back(copy.pinned);
  copy.pinned = nullptr;
  if (copy.slot != 0) slot_used_[copy.slot - 1] = false;
  copy.slot = 0;
}

void DeferredCopies::WaitAll() {
  for (Copy& copy : copies_) (void)Finished(copy, true);
}

Status DeferredCopies::SendFinished(protocol::Connection& conn, CUresult* latched) {
  Status sent;
  for (auto it = copies_.begin(); it != copies_.end();) {
    if (!Finished(*it, false)) {
      ++it;
      continue;
    }
    if (it->result != CUDA_SUCCESS && *latched == CUDA_SUCCESS) *latched = it->result;
    if (sent.ok() && it->result != CUDA_SUCCESS) {
      sent = protocol::SendReply(conn, it->request, it->result);
    } else if (sent.ok()) {
      protocol::Writer fields;
      protocol::Encode(fields, protocol::Call<protocol::Op::MemcpyDtoHDeferred>::Reply{it->slot});
      std::string_view tail;
      if (it->slot != 0) {  // the client finds the bytes in the slot, and frees it
        static_cast<protocol::StagingHeader*>(staging_.data())
            ->held[it->slot - 1]
            .store(1, std::memory_order_release);
      } else {
        tail = std::string_view(
            it->pinned != nullptr ? reinterpret_cast<const char*>(it->pinned) : it->bytes.data(), it->size);
      }
      sent = protocol::SendReply(conn, it->request, CUDA_SUCCESS, fields.data(), tail);
    }
    Release(*it);
    it = copies_.erase(it);
  }
  return sent;
}

void DeferredCopies::Detach() {
  for (Copy& copy : copies_) {
    if (copy.done == nullptr) continue;
    (void)Finished(copy, true);
    DropEvent(copy);
    if (copy.pinned == nullptr) continue;  // a shared slot keeps its bytes: it is not the driver's
    if (copy.result == CUDA_SUCCESS) copy.bytes.assign(reinterpret_cast<const char*>(copy.pinned), copy.size);
    free_pinned_.push_back(copy.pinned);
    copy.pinned = nullptr;
  }
  for (std::byte* buffer : free_pinned_) {
    if (api_.cuMemFreeHost != nullptr) (void)api_.cuMemFreeHost(buffer);
  }
  free_pinned_.clear();
  if (registered_ && api_.cuMemHostUnregister != nullptr) (void)api_.cuMemHostUnregister(staging_.data());
  registered_ = false;
}

}  // namespace gpupool::server
