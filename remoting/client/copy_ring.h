// The client's side of the copy ring (protocol/copy_ring.h): bulk copy bytes through memory shared
// with the worker when the server is on this host (a Unix socket without TLS). One copy call at a
// time uses the ring, holding its lease; a copy that finds the ring busy goes over the socket.
//
//   if (auto lease = ring->TryLease()) { seq = ring->Next(); slot = CopyRing::SlotOf(seq); ... }
//
// Thread-safety: Open and the destructor on one thread; the rest with the lease held.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "common/status.h"
#include "remoting/client/shared_region.h"
#include "remoting/protocol/copy_ring.h"
#include "remoting/protocol/transport.h"

namespace gpupool::client {

class Session;

class CopyRing {
 public:
  // Asks the worker for a ring over `conn`, right after the handshake with nothing else in flight.
  // Null when the worker declines; an error when the exchange failed (the connection is unusable).
  static Result<std::unique_ptr<CopyRing>> Open(protocol::Connection& conn);
  CopyRing(const CopyRing&) = delete;
  CopyRing& operator=(const CopyRing&) = delete;

  // The ring for one copy call, or an empty lock when another thread is using it.
  std::unique_lock<std::mutex> TryLease() { return std::unique_lock<std::mutex>(mu_, std::try_to_lock); }

  // The sequence number of the next ring frame (lease held): number every ring frame sent, in order.
  std::uint32_t Next() { return next_++; }
  static std::uint32_t SlotOf(std::uint32_t seq) { return seq % protocol::kRingSlots; }
  char* Slot(std::uint32_t slot) const { return slots_ + std::size_t{slot} * protocol::kRingSlotBytes; }
  // Blocks until the client may write the slot of ring frame `seq` (the frame before it in that
  // slot is handled), sending batched frames first so the worker can get there. False when the
  // session broke while waiting.
  bool WaitWritable(std::uint32_t seq, Session& session);

 private:
  explicit CopyRing(std::unique_ptr<SharedRegion> region)
      : region_(std::move(region)),
        header_(reinterpret_cast<protocol::RingHeader*>(region_->base())),
        slots_(region_->base() + protocol::kRingHeaderBytes) {}
  std::mutex mu_;
  std::unique_ptr<SharedRegion> region_;
  protocol::RingHeader* header_;
  char* slots_;
  std::uint32_t next_ = 0;  // guarded by mu_ (the lease)
};

}  // namespace gpupool::client
