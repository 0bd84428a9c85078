// Codec: encodes and decodes the field tuples of calls.h with Writer/Reader.
//
//   Writer w;  Encode(w, Call<Op::MemAlloc>::Request{bytes});
//   Call<Op::MemAlloc>::Request req;  if (!Decode(reader, &req)) ...reader.status()...
//
// Thread-safety: free functions over caller-owned values.
#pragma once

#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "remoting/protocol/wire_reader.h"
#include "remoting/protocol/wire_writer.h"

namespace gpupool::protocol {

namespace codec_internal {
template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

template <typename T>
void Put(Writer& w, const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    w.Str(v);
  } else if constexpr (IsVector<T>::value) {
    w.Vec(v);
  } else {
    static_assert(std::is_arithmetic_v<T>, "unsupported field type");
    w.Raw(&v, sizeof v);
  }
}

template <typename T>
bool Get(Reader& r, T* v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return r.Str(v);
  } else if constexpr (IsVector<T>::value) {
    return r.Vec(v);
  } else {
    static_assert(std::is_arithmetic_v<T>, "unsupported field type");
    std::string_view raw;
    if (!r.RawView(sizeof(T), &raw)) return false;
    std::memcpy(v, raw.data(), sizeof(T));
    return true;
  }
}
}  // namespace codec_internal

template <typename... T>
void Encode(Writer& w, const std::tuple<T...>& fields) {
  std::apply([&](const T&... f) { (codec_internal::Put(w, f), ...); }, fields);
}

// Decodes every field in order; false (with r.status() set) on the first malformed one.
template <typename... T>
bool Decode(Reader& r, std::tuple<T...>* fields) {
  return std::apply([&](T&... f) { return (codec_internal::Get(r, &f) && ...); }, *fields);
}

}  // namespace gpupool::protocol
