#include "remoting/protocol/copy_ring.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <ctime>

#include "remoting/protocol/wire_reader.h"
#include "remoting/protocol/wire_writer.h"

namespace gpupool::protocol {
namespace {

// The futex word is shared between processes: no FUTEX_PRIVATE_FLAG.
long Futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value, const timespec* timeout) {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, value, timeout, nullptr, 0);
}

bool Reached(std::uint32_t consumed, std::uint32_t count) {
  return static_cast<std::int32_t>(consumed - count) >= 0;
}

}  // namespace

std::string EncodeRingGeometry(const RingGeometry& geometry) {
  Writer w;
  w.U32(geometry.status);
  w.U32(geometry.slots);
  w.U32(geometry.slot_bytes);
  w.U32(geometry.header_bytes);
  return w.Take();
}

Result<RingGeometry> DecodeRingGeometry(std::string_view payload) {
  Reader r(payload);
  RingGeometry g;
  r.U32(&g.status);
  r.U32(&g.slots);
  r.U32(&g.slot_bytes);
  r.U32(&g.header_bytes);
  GPUPOOL_RETURN_IF_ERROR(r.ExpectEnd().Annotate("OpenCopyRing reply"));
  return g;
}

void MarkConsumed(RingHeader* header) {
  header->consumed.fetch_add(1, std::memory_order_release);
  (void)Futex(&header->consumed, FUTEX_WAKE, INT_MAX, nullptr);
}

bool WaitConsumed(RingHeader* header, std::uint32_t count, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const std::uint32_t seen = header->consumed.load(std::memory_order_acquire);
    if (Reached(seen, count)) return true;
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return false;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    const timespec wait{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    (void)Futex(&header->consumed, FUTEX_WAIT, seen, &wait);  // returns at once if it moved on
  }
}

}  // namespace gpupool::protocol
