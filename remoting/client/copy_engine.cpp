#include "remoting/client/copy_engine.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "remoting/client/copy_pipeline.h"

namespace gpupool::client {
namespace {

using protocol::Op;

// One chunk of a pipelined copy: where it lies in the copy, and the ring slot it uses, if any.
struct Chunk {
  Pending pending;
  std::size_t offset = 0, n = 0;
  std::uint32_t slot = 0;
};

// Runs `begin(chunk)` for every chunk of at most `chunk_size` bytes (offset and n set), keeping at
// most `window` unanswered, and `end(chunk)` for each once its reply came back successfully.
template <Op op, typename BeginChunk, typename EndChunk>
CUresult Pipeline(std::size_t bytes, std::size_t chunk_size, std::size_t window, BeginChunk begin,
                  EndChunk end) {
  const std::size_t chunks = (bytes + chunk_size - 1) / chunk_size;
  return Windowed<op, Chunk>(
      chunks, window,
      [&](Chunk& chunk, std::size_t i) {
        chunk.offset = i * chunk_size;
        chunk.n = std::min(chunk_size, bytes - chunk.offset);
        return begin(chunk);
      },
      end);
}

void NothingAtEnd(const Chunk&) {}

// Host-to-device through the copy ring: each chunk is copied into its slot once the slot is free,
// and its frame names the slot.
CUresult RingHostToDevice(CopyRing& ring, Session& session, std::uint64_t context, CUdeviceptr dst,
                          const char* from, std::size_t bytes, std::uint64_t stream, bool async) {
  auto fill = [&](std::size_t offset, std::size_t n, std::uint32_t* slot) {
    const std::uint32_t seq = ring.Next();
    *slot = CopyRing::SlotOf(seq);
    if (!ring.WaitWritable(seq, session)) return false;
    std::memcpy(ring.Slot(*slot), from + offset, n);
    return true;
  };
  if (async) {
    for (std::size_t offset = 0; offset < bytes; offset += protocol::kRingSlotBytes) {
      const std::size_t n = std::min<std::size_t>(protocol::kRingSlotBytes, bytes - offset);
      std::uint32_t slot = 0;
      if (!fill(offset, n, &slot)) return CUDA_ERROR_DEVICE_UNAVAILABLE;
      CUresult r = Rpc<Op::MemcpyHtoDAsyncRing>(context, {dst + offset, stream, slot, n});
      if (r != CUDA_SUCCESS) return r;
    }
    return CUDA_SUCCESS;
  }
  return Pipeline<Op::MemcpyHtoDRing>(
      bytes, protocol::kRingSlotBytes, protocol::kRingSlots,
      [&](Chunk& c) {
        if (!fill(c.offset, c.n, &c.slot)) return CUDA_ERROR_DEVICE_UNAVAILABLE;
        return Begin<Op::MemcpyHtoDRing>(context, {dst + c.offset, c.slot, c.n}, &c.pending);
      },
      NothingAtEnd);
}

// Device-to-host through the copy ring: the worker fills a chunk's slot before it answers, and the
// bytes are copied out when the reply is in. No wait before a chunk: the worker handles ring frames
// in order, and a window of kRingSlots means a slot's previous chunk was copied out already.
CUresult RingDeviceToHost(CopyRing& ring, std::uint64_t context, char* to, CUdeviceptr src, std::size_t bytes,
                          std::uint64_t stream, bool async) {
  auto copy_out = [&](const Chunk& c) { std::memcpy(to + c.offset, ring.Slot(c.slot), c.n); };
  if (async) {
    return Pipeline<Op::MemcpyDtoHAsyncRing>(
        bytes, protocol::kRingSlotBytes, protocol::kRingSlots,
        [&](Chunk& c) {
          c.slot = CopyRing::SlotOf(ring.Next());
          return Begin<Op::MemcpyDtoHAsyncRing>(context, {src + c.offset, c.n, stream, c.slot}, &c.pending);
        },
        copy_out);
  }
  return Pipeline<Op::MemcpyDtoHRing>(
      bytes, protocol::kRingSlotBytes, protocol::kRingSlots,
      [&](Chunk& c) {
        c.slot = CopyRing::SlotOf(ring.Next());
        return Begin<Op::MemcpyDtoHRing>(context, {src + c.offset, c.n, c.slot}, &c.pending);
      },
      copy_out);
}

thread_local int g_host_copies = 0;  // CopyHostToDevice / CopyDeviceToHost calls on this thread

struct HostCopyScope {
  HostCopyScope() { ++g_host_copies; }
  ~HostCopyScope() { --g_host_copies; }
  HostCopyScope(const HostCopyScope&) = delete;
  HostCopyScope& operator=(const HostCopyScope&) = delete;
};

bool Overflows(std::uint64_t base, std::size_t bytes) {
  return base + bytes < base;
}

// Defers chunks of the copy while the session has room for them; returns how many bytes it deferred.
std::size_t DeferChunks(std::uint64_t context, char* to, CUdeviceptr src, std::size_t bytes,
                        std::uint64_t stream, CUresult* error) {
  const bool on_blocking_stream = State::Get().WireStreamBlocks(stream);
  const std::size_t chunk = protocol::kChunkSize;
  const std::size_t chunks =
      DeferWhileRoom((bytes + chunk - 1) / chunk,
                     [&](std::size_t i) {
                       const std::size_t offset = i * chunk, n = std::min(chunk, bytes - offset);
                       return Defer<Op::MemcpyDtoHDeferred>(context, {src + offset, n, stream}, to + offset,
                                                            n, on_blocking_stream);
                     },
                     error);
  return std::min(chunks * chunk, bytes);
}

// Host memory the worker maps as well (the mapped arena): [p, p + bytes) inside one pinned allocation
// the session's GPUs reach at its own address.
bool MappedHost(const void* p, std::size_t bytes) {
  return State::Get().pinned.CoversMapped(p, bytes);
}

// A copy between device memory and mapped host memory: the worker's driver copies it as memory of
// the device (no byte on the socket or the ring), on the copy's stream. A synchronous copy then waits
// for that stream, as the driver's host copies return once done.
CUresult MappedCopy(std::uint64_t context, CUdeviceptr dst, CUdeviceptr src, std::size_t bytes,
                    std::uint64_t stream, bool async) {
  const CUresult sent = Rpc<Op::MemcpyDtoDAsync>(context, {dst, src, bytes, stream});
  return sent != CUDA_SUCCESS || async ? sent : Rpc<Op::StreamSynchronize>(context, {stream});
}

}  // namespace

bool Deferrable(const void* dst, std::size_t dst_bytes, CUdeviceptr src, std::size_t src_bytes) {
  State& state = State::Get();
  CUdeviceptr base = 0;
  std::size_t size = 0;
  return Session::DeferredCopiesWanted() && state.pinned.Covers(dst, dst_bytes) &&
         state.FindAllocation(src, &base, &size) && src_bytes <= size - (src - base);
}

bool InsideHostCopy() {
  return g_host_copies > 0;
}

CUresult CopyHostToDevice(std::uint64_t context, CUdeviceptr dst, const void* src, std::size_t bytes,
                          std::uint64_t stream, bool async) {
  if (bytes == 0) return CUDA_SUCCESS;
  const HostCopyScope scope;
  if (src == nullptr || Overflows(dst, bytes)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = FinishDeferredCopiesInto(src, bytes); r != CUDA_SUCCESS) return r;
  if (MappedHost(src, bytes))
    return MappedCopy(context, dst, reinterpret_cast<CUdeviceptr>(src), bytes, stream, async);
  const char* from = static_cast<const char*>(src);
  if (Session* session = State::Get().session(); session != nullptr && session->copy_ring() != nullptr) {
    CopyRing& ring = *session->copy_ring();
    if (auto lease = ring.TryLease())
      return RingHostToDevice(ring, *session, context, dst, from, bytes, stream, async);
  }
  if (async) {
    for (std::size_t offset = 0; offset < bytes; offset += protocol::kChunkSize) {
      iovec chunk{const_cast<char*>(from + offset), std::min(protocol::kChunkSize, bytes - offset)};
      CUresult r = Rpc<Op::MemcpyHtoDAsync>(context, {dst + offset, stream}, nullptr, Tail{&chunk, 1});
      if (r != CUDA_SUCCESS) return r;
    }
    return CUDA_SUCCESS;
  }
  return Pipeline<Op::MemcpyHtoD>(
      bytes, protocol::kChunkSize, kCopyWindow,
      [&](Chunk& c) {
        iovec part{const_cast<char*>(from + c.offset), c.n};
        return Begin<Op::MemcpyHtoD>(context, {dst + c.offset}, &c.pending, Tail{&part, 1});
      },
      NothingAtEnd);
}

CUresult CopyDeviceToHost(std::uint64_t context, void* dst, CUdeviceptr src, std::size_t bytes,
                          std::uint64_t stream, bool async) {
  if (bytes == 0) return CUDA_SUCCESS;
  const HostCopyScope scope;
  if (dst == nullptr || Overflows(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  char* to = static_cast<char*>(dst);
  if (MappedHost(to, bytes)) {  // the GPU writes the program's pages: nothing to defer or carry
    if (CUresult r = FinishDeferredCopiesInto(to, bytes); r != CUDA_SUCCESS) return r;
    return MappedCopy(context, reinterpret_cast<CUdeviceptr>(to), src, bytes, stream, async);
  }
  if (async && Deferrable(to, bytes, src, bytes)) {
    CUresult error = CUDA_SUCCESS;
    const std::size_t deferred = DeferChunks(context, to, src, bytes, stream, &error);
    if (error != CUDA_SUCCESS || deferred == bytes) return error;
    to += deferred;  // the rest waits, as below
    src += deferred;
    bytes -= deferred;
  }
  // Lands now: after the deferred copies still to land there.
  if (CUresult r = FinishDeferredCopiesInto(to, bytes); r != CUDA_SUCCESS) return r;
  if (Session* session = State::Get().session(); session != nullptr && session->copy_ring() != nullptr) {
    CopyRing& ring = *session->copy_ring();
    if (auto lease = ring.TryLease()) return RingDeviceToHost(ring, context, to, src, bytes, stream, async);
  }
  // The reply's bytes go straight into the caller's buffer (Pending::tail).
  if (async) {
    return Pipeline<Op::MemcpyDtoHAsync>(
        bytes, protocol::kChunkSize, kCopyWindow,
        [&](Chunk& c) {
          c.pending.tail = to + c.offset;
          c.pending.tail_size = c.n;
          return Begin<Op::MemcpyDtoHAsync>(context, {src + c.offset, c.n, stream}, &c.pending);
        },
        NothingAtEnd);
  }
  return Pipeline<Op::MemcpyDtoH>(
      bytes, protocol::kChunkSize, kCopyWindow,
      [&](Chunk& c) {
        c.pending.tail = to + c.offset;
        c.pending.tail_size = c.n;
        return Begin<Op::MemcpyDtoH>(context, {src + c.offset, c.n}, &c.pending);
      },
      NothingAtEnd);
}

namespace {

// Every deferred copy lands when one that `accept` takes is out.
CUresult FinishDeferredCopiesIf(const std::function<bool(const Pending&)>& accept) {
  Session* session = State::Get().session();
  if (session == nullptr || !session->AnyDeferred(accept)) return CUDA_SUCCESS;
  return Rpc<Op::DeferredCopiesFinish>(0, {});
}

}  // namespace

CUresult FinishDeferredCopies() {
  return FinishDeferredCopiesIf([](const Pending&) { return true; });
}

CUresult FinishDeferredCopiesOnBlockingStreams() {
  return FinishDeferredCopiesIf([](const Pending& copy) { return copy.on_blocking_stream; });
}

CUresult FinishDeferredCopiesInto(const void* p, std::size_t n) {
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  return FinishDeferredCopiesIf([begin, n](const Pending& copy) {
    const auto start = reinterpret_cast<std::uintptr_t>(copy.tail);
    return start < begin + n && begin < start + TailExtent(copy);
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
  if (CUresult r = FinishDeferredCopiesInto(reinterpret_cast<const void*>(src), bytes); r != CUDA_SUCCESS)
    return r;
  if (CUresult r = FinishDeferredCopiesInto(reinterpret_cast<const void*>(dst), bytes); r != CUDA_SUCCESS)
    return r;
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
  return CUDA_SUCCESS;
}

}  // namespace gpupool::client
