#include "remoting/protocol/calls.h"

#include <algorithm>
#include <cstdio>

namespace gpupool::protocol {

const std::vector<OpInfo>& AllOps() {
  static const std::vector<OpInfo> ops = {
#define GPUPOOL_CALL(id, name, mode, tail, req, rep) {Op::name, #name, Mode::mode, Tail::tail},
#include "remoting/protocol/driver_calls.def"
#undef GPUPOOL_CALL
  };
  return ops;
}

const OpInfo* FindOp(std::uint16_t opcode) {
  // Sorted once; opcodes are sparse, so a binary search beats a 64K-entry array.
  static const std::vector<OpInfo> sorted = [] {
    std::vector<OpInfo> v = AllOps();
    std::sort(v.begin(), v.end(), [](const OpInfo& a, const OpInfo& b) { return a.op < b.op; });
    return v;
  }();
  auto it = std::lower_bound(
      sorted.begin(), sorted.end(), opcode,
      [](const OpInfo& info, std::uint16_t code) { return static_cast<std::uint16_t>(info.op) < code; });
  if (it == sorted.end() || static_cast<std::uint16_t>(it->op) != opcode) return nullptr;
  return &*it;
}

std::string OpName(std::uint16_t opcode) {
  if (const OpInfo* info = FindOp(opcode)) return std::string(info->name);
  char buf[32];
  std::snprintf(buf, sizeof buf, "opcode 0x%04x", opcode);
  return buf;
}

}  // namespace gpupool::protocol
