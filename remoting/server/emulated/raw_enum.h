// RawEnum: the integer in an enum field of a struct a client sent as bytes (texture descriptors,
// stream attribute values). Loading such a field as its enum type when it holds a value outside the
// enum's range is undefined behaviour (UBSan stops the worker there), so it is read as bytes and
// checked as an integer.
//
// Thread-safety: pure function.
#pragma once

#include <cstring>

namespace gpupool::server::emulated {

template <typename Enum>
int RawEnum(const Enum& field) {
  static_assert(sizeof(Enum) == sizeof(int), "cuda.h enums are int-sized");
  int raw = 0;
  std::memcpy(&raw, &field, sizeof raw);
  return raw;
}

}  // namespace gpupool::server::emulated
