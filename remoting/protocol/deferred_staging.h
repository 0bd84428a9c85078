// Deferred staging: where the worker leaves the bytes of deferred device-to-host copies
// (MemcpyDtoHDeferred) for a client on the same host, instead of sending them on the socket
// (docs/protocol.md, "Deferred copies"). A client that has a copy ring asks for it with an
// OpenDeferredStaging frame; the worker answers with its geometry (a RingGeometry) and passes its
// memfd with the reply, as for the ring.
//
// Layout: kStagingHeaderBytes of StagingHeader, then kStagingSlots slots of kStagingSlotBytes. A
// deferred copy's reply field names the slot holding its bytes (1 + the slot; 0: the bytes are the
// reply's tail). The worker sets held[slot] before that reply and does not write the slot again
// while it is set; the client copies the bytes out when it reads the reply, then clears it.
//
// Trust: as the copy ring. The worker creates, sizes and seals the memfd and only writes slot bytes
// (by DMA) and held flags; a client that clears a flag early spoils only its own data.
//
// Thread-safety: the held flags are the shared words (atomics).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "remoting/protocol/frame.h"

namespace gpupool::protocol {

inline constexpr std::uint32_t kStagingSlots = kMaxDeferredCopies;
inline constexpr std::uint32_t kStagingSlotBytes = kChunkSize;
inline constexpr std::size_t kStagingHeaderBytes = 4096;
inline constexpr std::size_t kStagingBytes =
    kStagingHeaderBytes + std::size_t{kStagingSlots} * kStagingSlotBytes;

struct StagingHeader {
  std::atomic<std::uint32_t> held[kStagingSlots];  // 1: a reply named the slot, not yet copied out
};
static_assert(sizeof(StagingHeader) <= kStagingHeaderBytes);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "shared between processes");

}  // namespace gpupool::protocol
