#include "remoting/server/request_durations.h"

#include "remoting/protocol/calls.h"

namespace gpupool::server {
namespace {

struct CallMode {
  std::uint16_t opcode;
  bool answered;  // kCall or kSync: the worker replies, and the reply is timed
};
constexpr CallMode kCalls[] = {
#define GPUPOOL_CALL(id, name, mode, tail_kind, req, rep) \
  {id, protocol::Mode::mode != protocol::Mode::kAsync},
#include "remoting/protocol/driver_calls.def"
#undef GPUPOOL_CALL
};

// Every call's opcode must fall in a named class: a new range in driver_calls.def needs a name here.
constexpr bool EveryOpcodeHasAClass() {
  for (const CallMode& c : kCalls) {
    if ((c.opcode >> 8) == 0 || (c.opcode >> 8) >= kCallClasses) return false;
  }
  return true;
}
static_assert(EveryOpcodeHasAClass(), "an opcode range of driver_calls.def has no call class");

}  // namespace

std::size_t CallClass(std::uint16_t opcode) {
  std::size_t c = opcode >> 8;
  return c < kCallClasses ? c : 0;
}

const char* CallClassName(std::size_t call_class) {
  static const char* const kNames[kCallClasses] = {"other",  "device", "context", "memory", "copy",
                                                   "memset", "stream", "module",  "launch", "array"};
  return call_class < kCallClasses ? kNames[call_class] : "other";
}

bool CallClassAnswers(std::size_t call_class) {
  for (const CallMode& c : kCalls) {
    if (c.answered && CallClass(c.opcode) == call_class) return true;
  }
  return false;
}

void RequestDurations::Observe(std::uint16_t opcode, std::chrono::nanoseconds took) {
  std::size_t c = CallClass(opcode);
  double seconds = std::chrono::duration<double>(took).count();
  std::size_t b = 0;
  while (b < std::size(kDurationBounds) && seconds > kDurationBounds[b]) ++b;
  buckets[c][b].fetch_add(1, std::memory_order_relaxed);
  sum_ns[c].fetch_add(static_cast<std::uint64_t>(took.count() < 0 ? 0 : took.count()),
                      std::memory_order_relaxed);
}

}  // namespace gpupool::server
