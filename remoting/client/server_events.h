// Server events the client records for its own bookkeeping (host steps, memory-pool frees), kept
// idle per context and reused: creating one is a round trip, recording a reused one is not.
//
// Thread-safety: safe from any thread.
#pragma once

#include <cuda.h>

#include <cstdint>

namespace gpupool::client {

// An untimed event of server context `context` (created when none is idle).
CUresult TakeServerEvent(std::uint64_t context, std::uint64_t* id);
// Back to the idle list; the caller no longer waits on it or lets anything wait on it later.
void GiveServerEvent(std::uint64_t context, std::uint64_t id);
// The context is gone on the server, and its events with it.
void ForgetServerEvents(std::uint64_t context);

}  // namespace gpupool::client
