// The mapped arena: host memory that a client and a worker on the same host both map at the same
// address, so that the worker's driver can map it for the GPU (cuMemHostRegister with DEVICEMAP) and
// a kernel reaches the program's pinned buffers at their own addresses, as with mapped (zero-copy)
// host memory natively (docs/protocol.md "Mapped host memory").
//
// Over a plain Unix socket the client reserves kMappedArenaBytes of address space and names the
// reservation's address in an OpenMappedArena frame; the worker creates a sealed memfd of that size
// and maps it there without replacing anything of its own (MAP_FIXED_NOREPLACE). It answers
// kArenaReady with the memfd (SCM_RIGHTS), which the client maps over its reservation;
// kArenaAddressTaken when the address is in use in the worker (the client asks again with another);
// or kArenaDeclined (TLS, TCP, no limit, an arena already open). The address space costs nothing: the
// memfd is sparse, and only what the worker registers for the GPU (MemHostRegisterMapped, counted
// against the session's limit) is pinned.
//
// Trust: the worker sizes and seals the memfd, so the client cannot make the worker's mapping fault,
// and never reads the arena itself: only the GPU does, for the program that owns it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gpupool::protocol {

// Address space, not memory: what a session may have pinned in it is the server's limit.
inline constexpr std::uint64_t kMappedArenaBytes = 64ull << 30;
// Allocations in the arena are whole pages, as the driver's pinned allocations are.
inline constexpr std::uint64_t kMappedArenaPage = 4096;
// How many reservations a client offers before it gives up on an arena.
inline constexpr int kMappedArenaAttempts = 8;

enum class ArenaStatus : std::uint32_t {
  kReady = 0,         // the memfd rides with the reply
  kDeclined = 1,      // no mapped host memory for this session
  kAddressTaken = 2,  // try another address
};

// OpenMappedArena request payload: u64 address (page-aligned, the client's reservation).
std::string EncodeArenaRequest(std::uint64_t address);
Result<std::uint64_t> DecodeArenaRequest(std::string_view payload);

// Reply payload: u32 status, u64 arena bytes (kMappedArenaBytes), u64 the session's limit on
// registered bytes.
struct ArenaReply {
  ArenaStatus status = ArenaStatus::kDeclined;
  std::uint64_t bytes = 0;
  std::uint64_t limit = 0;
};
std::string EncodeArenaReply(const ArenaReply& reply);
Result<ArenaReply> DecodeArenaReply(std::string_view payload);

}  // namespace gpupool::protocol
