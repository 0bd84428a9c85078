#include "remoting/server/deferred_copies.h"

#include <cstring>

#include "remoting/protocol/call_io.h"

namespace gpupool::server {

DeferredCopies::~DeferredCopies() {
  Detach();
}

std::byte* DeferredCopies::TakeStaging() {
  if (!free_staging_.empty()) {
    std::byte* buffer = free_staging_.back();
    free_staging_.pop_back();
    return buffer;
  }
  void* buffer = nullptr;
  // Portable: a copy on any of the session's contexts may use it.
  if (api_.cuMemHostAlloc == nullptr ||
      api_.cuMemHostAlloc(&buffer, protocol::kChunkSize, CU_MEMHOSTALLOC_PORTABLE) != CUDA_SUCCESS)
    return nullptr;
  return static_cast<std::byte*>(buffer);
}

CUresult DeferredCopies::Start(const protocol::FrameHeader& request, CUdeviceptr src, std::size_t size,
                               CUstream stream) {
  if (size > protocol::kChunkSize) return CUDA_ERROR_INVALID_VALUE;
  if (copies_.size() >= protocol::kMaxDeferredCopies) return CUDA_ERROR_OUT_OF_MEMORY;
  if (api_.cuMemcpyDtoHAsync_v2 == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  Copy copy;
  copy.request = request;
  copy.size = size;
  copy.pinned = TakeStaging();
  if (copy.pinned != nullptr && api_.cuEventCreate != nullptr && api_.cuEventRecord != nullptr &&
      api_.cuEventCreate(&copy.done, CU_EVENT_DISABLE_TIMING) == CUDA_SUCCESS) {
    CUresult r = api_.cuMemcpyDtoHAsync_v2(copy.pinned, src, size, stream);
    if (r == CUDA_SUCCESS) r = api_.cuEventRecord(copy.done, stream);
    if (r != CUDA_SUCCESS) {
      Release(copy);
      return r;
    }
    copies_.push_back(std::move(copy));
    return CUDA_SUCCESS;
  }
  // No pinned memory or event to be had: the copy is made now, into ordinary memory (a copy to
  // pageable memory returns once it is done), and answered with the next synchronisation as well.
  Release(copy);
  copy.bytes.resize(size);
  CUresult r = api_.cuMemcpyDtoHAsync_v2(copy.bytes.data(), src, size, stream);
  if (r == CUDA_SUCCESS && api_.cuStreamSynchronize != nullptr) r = api_.cuStreamSynchronize(stream);
  if (r != CUDA_SUCCESS) return r;
  copies_.push_back(std::move(copy));
  return CUDA_SUCCESS;
}

bool DeferredCopies::Finished(Copy& copy, bool wait) {
  if (copy.done == nullptr) return true;
  const CUresult r = wait ? api_.cuEventSynchronize(copy.done) : api_.cuEventQuery(copy.done);
  if (r == CUDA_ERROR_NOT_READY) return false;
  copy.result = r;
  return true;
}

void DeferredCopies::Release(Copy& copy) {
  if (copy.done != nullptr && api_.cuEventDestroy_v2 != nullptr) (void)api_.cuEventDestroy_v2(copy.done);
  copy.done = nullptr;
  if (copy.pinned != nullptr) free_staging_.push_back(copy.pinned);
  copy.pinned = nullptr;
}

Status DeferredCopies::SendFinished(protocol::Connection& conn, bool wait, CUresult* latched) {
  Status sent;
  for (auto it = copies_.begin(); it != copies_.end();) {
    if (!Finished(*it, wait)) {
      ++it;
      continue;
    }
    if (it->result != CUDA_SUCCESS && *latched == CUDA_SUCCESS) *latched = it->result;
    if (sent.ok()) {
      const char* bytes =
          it->pinned != nullptr ? reinterpret_cast<const char*>(it->pinned) : it->bytes.data();
      const std::string_view tail =
          it->result == CUDA_SUCCESS ? std::string_view(bytes, it->size) : std::string_view();
      sent = protocol::SendReply(conn, it->request, it->result, {}, tail);
    }
    Release(*it);
    it = copies_.erase(it);
  }
  return sent;
}

void DeferredCopies::Detach() {
  for (Copy& copy : copies_) {
    if (copy.pinned == nullptr) continue;
    (void)Finished(copy, true);
    if (copy.result == CUDA_SUCCESS) copy.bytes.assign(reinterpret_cast<const char*>(copy.pinned), copy.size);
    Release(copy);
  }
  for (std::byte* buffer : free_staging_) {
    if (api_.cuMemFreeHost != nullptr) (void)api_.cuMemFreeHost(buffer);
  }
  free_staging_.clear();
}

}  // namespace gpupool::server
