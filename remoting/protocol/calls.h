// The forwarded driver calls, generated from driver_calls.def: opcodes, names, modes, and the
// request/reply field tuples both sides encode with codec.h.
//
//   using Req = protocol::Call<protocol::Op::MemAlloc>::Request;   // std::tuple<u64>
//   const protocol::OpInfo* info = protocol::FindOp(header.opcode);  // null for unknown opcodes
//
// Thread-safety: constants.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace gpupool::protocol {

// Field types of driver_calls.def.
using u8 = std::uint8_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i32 = std::int32_t;
using f32 = float;
using str = std::string;
using u64s = std::vector<std::uint64_t>;
using i32s = std::vector<std::int32_t>;

enum class Mode : std::uint8_t { kAsync, kCall, kSync, kDeferred };
enum class Tail : std::uint8_t { kNoTail, kRequestTail, kReplyTail };

enum class Op : std::uint16_t {
#define GPUPOOL_CALL(id, name, mode, tail, req, rep) name = id,
#include "remoting/protocol/driver_calls.def"
#undef GPUPOOL_CALL
};

#define GPUPOOL_PROTOCOL_FIELDS(...) __VA_ARGS__

template <Op op>
struct Call;
#define GPUPOOL_CALL(id, name, mode_, tail_, req, rep)       \
  template <>                                                \
  struct Call<Op::name> {                                    \
    static constexpr Mode mode = Mode::mode_;                \
    static constexpr Tail tail = Tail::tail_;                \
    static constexpr std::string_view kName = #name;         \
    using Request = std::tuple<GPUPOOL_PROTOCOL_FIELDS req>; \
    using Reply = std::tuple<GPUPOOL_PROTOCOL_FIELDS rep>;   \
  };
#include "remoting/protocol/driver_calls.def"
#undef GPUPOOL_CALL

struct OpInfo {
  Op op;
  std::string_view name;
  Mode mode;
  Tail tail;
};

// The table entry for `opcode`, or null when the opcode is not a known call.
const OpInfo* FindOp(std::uint16_t opcode);
// "MemAlloc", or "opcode 0x1234" when unknown.
std::string OpName(std::uint16_t opcode);
// Every known call, in driver_calls.def order.
const std::vector<OpInfo>& AllOps();

}  // namespace gpupool::protocol
