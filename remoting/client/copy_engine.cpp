#include "remoting/client/copy_engine.h"

#include <algorithm>
#include <cstring>
#include <deque>

#include "remoting/client/rpc.h"

namespace gpupool::client {
namespace {

using protocol::Op;

// Chunks in flight per copy: enough to fill a fast link, few enough that the server's small
// replies never fill our receive buffer while we are still sending.
constexpr std::size_t kWindow = 32;

// Runs `begin(offset, n, pending)` for every chunk, keeping at most kWindow unanswered.
template <Op op, typename BeginChunk>
CUresult Pipeline(std::size_t bytes, BeginChunk begin) {
  std::deque<Pending> in_flight;
  CUresult first_error = CUDA_SUCCESS;
  auto finish_oldest = [&] {
    CUresult r = Finish<op>(&in_flight.front(), nullptr);
    if (first_error == CUDA_SUCCESS) first_error = r;
    in_flight.pop_front();
  };
  for (std::size_t offset = 0; offset < bytes && first_error == CUDA_SUCCESS;
       offset += protocol::kChunkSize) {
    const std::size_t n = std::min(protocol::kChunkSize, bytes - offset);
    if (in_flight.size() == kWindow) finish_oldest();
    in_flight.emplace_back();
    CUresult r = begin(offset, n, &in_flight.back());
    if (r != CUDA_SUCCESS) {
      in_flight.pop_back();
      first_error = r;
    }
  }
  while (!in_flight.empty()) finish_oldest();
  return first_error;
}

bool Overflows(std::uint64_t base, std::size_t bytes) {
  return base + bytes < base;
}

}  // namespace

CUresult CopyHostToDevice(std::uint64_t context, CUdeviceptr dst, const void* src, std::size_t bytes,
                          std::uint64_t stream, bool async) {
  if (bytes == 0) return CUDA_SUCCESS;
  if (src == nullptr || Overflows(dst, bytes)) return CUDA_ERROR_INVALID_VALUE;
  const char* from = static_cast<const char*>(src);
  if (async) {
    for (std::size_t offset = 0; offset < bytes; offset += protocol::kChunkSize) {
      iovec chunk{const_cast<char*>(from + offset), std::min(protocol::kChunkSize, bytes - offset)};
      CUresult r = Rpc<Op::MemcpyHtoDAsync>(context, {dst + offset, stream}, nullptr, Tail{&chunk, 1});
      if (r != CUDA_SUCCESS) return r;
    }
    return CUDA_SUCCESS;
  }
  return Pipeline<Op::MemcpyHtoD>(bytes, [&](std::size_t offset, std::size_t n, Pending* pending) {
    iovec chunk{const_cast<char*>(from + offset), n};
    return Begin<Op::MemcpyHtoD>(context, {dst + offset}, pending, Tail{&chunk, 1});
  });
}

CUresult CopyDeviceToHost(std::uint64_t context, void* dst, CUdeviceptr src, std::size_t bytes,
                          std::uint64_t stream, bool async) {
  if (bytes == 0) return CUDA_SUCCESS;
  if (dst == nullptr || Overflows(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  char* to = static_cast<char*>(dst);
  if (async) {
    return Pipeline<Op::MemcpyDtoHAsync>(bytes, [&](std::size_t offset, std::size_t n, Pending* pending) {
      pending->tail = to + offset;
      pending->tail_size = n;
      return Begin<Op::MemcpyDtoHAsync>(context, {src + offset, n, stream}, pending);
    });
  }
  return Pipeline<Op::MemcpyDtoH>(bytes, [&](std::size_t offset, std::size_t n, Pending* pending) {
    pending->tail = to + offset;
    pending->tail_size = n;
    return Begin<Op::MemcpyDtoH>(context, {src + offset, n}, pending);
  });
}

CUresult CopyDeviceToDevice(std::uint64_t context, CUdeviceptr dst, CUdeviceptr src, std::size_t bytes,
                            std::uint64_t stream, bool async) {
  if (bytes == 0) return CUDA_SUCCESS;
  if (async) return Rpc<Op::MemcpyDtoDAsync>(context, {dst, src, bytes, stream});
  return Rpc<Op::MemcpyDtoD>(context, {dst, src, bytes});
}

CUresult CopyUnified(std::uint64_t context, CUdeviceptr dst, CUdeviceptr src, std::size_t bytes,
                     std::uint64_t stream, bool async) {
  State& state = State::Get();
  const bool dst_device = state.FindAllocation(dst, nullptr, nullptr);
  const bool src_device = state.FindAllocation(src, nullptr, nullptr);
  if (dst_device && src_device) return CopyDeviceToDevice(context, dst, src, bytes, stream, async);
  if (dst_device)
    return CopyHostToDevice(context, dst, reinterpret_cast<const void*>(src), bytes, stream, async);
  if (src_device) return CopyDeviceToHost(context, reinterpret_cast<void*>(dst), src, bytes, stream, async);
  if (bytes != 0 && (dst == 0 || src == 0)) return CUDA_ERROR_INVALID_VALUE;
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
