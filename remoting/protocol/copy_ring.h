// The copy ring: bulk copy data through shared memory when client and worker share a host
// (ARCHITECTURE §3.3, docs/protocol.md "Copy ring"). Over a plain Unix socket the client may ask
// for it with an OpenCopyRing frame; the worker answers with the ring's geometry and passes the
// ring's memfd with the reply (SCM_RIGHTS). From then on a copy chunk travels as a small frame
// naming a slot (MemcpyHtoDRing, MemcpyDtoHRing, ...), its bytes in the slot instead of the socket:
// one memcpy on each side instead of two socket copies and their system calls.
//
// Layout of the ring: a kRingHeaderBytes header (RingHeader), then kRingSlots slots of
// kRingSlotBytes. The ring frame with sequence number n (the client numbers them from 0 in the
// order it sends them) uses slot n % kRingSlots. The worker handles ring frames in that order and,
// after each, adds one to RingHeader::consumed (whatever the frame's outcome) and wakes waiters.
// The client writes a slot for frame n only once consumed > n - kRingSlots: the frame that used the
// slot before is done with it.
//
// Trust: the worker creates the memfd, sizes it and seals it against shrinking and growing, so the
// client cannot make the worker's mapping fault; the worker bounds every slot and size itself and
// reads no field of the ring but the slot bytes. The client can only spoil its own data.
//
// Thread-safety: RingHeader::consumed is the only shared word (atomic); the rest are values.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "remoting/protocol/frame.h"

namespace gpupool::protocol {

// Slots smaller than a socket chunk: a 1 MiB copy is four frames, so the client fills one slot
// while the worker empties the one before.
inline constexpr std::uint32_t kRingSlots = 32;
inline constexpr std::uint32_t kRingSlotBytes = 256u << 10;
inline constexpr std::size_t kRingHeaderBytes = 4096;
inline constexpr std::size_t kRingBytes = kRingHeaderBytes + std::size_t{kRingSlots} * kRingSlotBytes;

struct RingHeader {
  std::atomic<std::uint32_t> consumed;  // ring frames the worker has handled, modulo 2^32
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "shared between processes");

// OpenCopyRing reply payload (the memfd rides with it when status is 0): u32 status (a CUresult:
// 0, or CUDA_ERROR_NOT_SUPPORTED when the connection or server cannot share memory), u32 slots,
// u32 slot bytes, u32 header bytes.
struct RingGeometry {
  std::uint32_t status = 0;
  std::uint32_t slots = 0;
  std::uint32_t slot_bytes = 0;
  std::uint32_t header_bytes = 0;
};
std::string EncodeRingGeometry(const RingGeometry& geometry);
Result<RingGeometry> DecodeRingGeometry(std::string_view payload);

// Worker: one more ring frame handled; wakes a client waiting in WaitConsumed.
void MarkConsumed(RingHeader* header);
// Client: true once `count` ring frames have been handled (modular: the difference is read as
// signed), false when `timeout` passes first.
bool WaitConsumed(RingHeader* header, std::uint32_t count, std::chrono::milliseconds timeout);

}  // namespace gpupool::protocol
