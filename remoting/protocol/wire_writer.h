// Writer: appends little-endian values to a growing byte buffer (the payload of one frame).
//
//   Writer w;  w.U64(dptr);  w.Str(name);   ... EncodeHeader(...) ... send w.data()
//
// Strings and byte blobs are a u32 length followed by the bytes; vectors a u32 count followed by
// the items. The writer never fails: limits are the reader's job (the peer is not trusted, we are).
//
// Thread-safety: a value; one thread at a time.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "remoting/protocol/frame.h"

namespace gpupool::protocol {

class Writer {
 public:
  void U8(std::uint8_t v) { Put(v); }
  void U16(std::uint16_t v) { Put(v); }
  void U32(std::uint32_t v) { Put(v); }
  void U64(std::uint64_t v) { Put(v); }
  void I32(std::int32_t v) { Put(v); }
  void I64(std::int64_t v) { Put(v); }
  void F32(float v) { Put(v); }
  void F64(double v) { Put(v); }
  void Str(std::string_view s) {
    U32(static_cast<std::uint32_t>(s.size()));
    buf_.append(s);
  }
  template <typename T>
  void Vec(const std::vector<T>& items) {
    U32(static_cast<std::uint32_t>(items.size()));
    for (const T& item : items) Put(item);
  }
  void Raw(const void* data, std::size_t size) { buf_.append(static_cast<const char*>(data), size); }

  const std::string& data() const { return buf_; }
  std::size_t size() const { return buf_.size(); }
  std::string Take() { return std::move(buf_); }

 private:
  template <typename T>
  void Put(T v) {
    static_assert(std::is_arithmetic_v<T>);
    char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    buf_.append(bytes, sizeof(T));
  }

  std::string buf_;
};

// The 16 header bytes of a frame.
void EncodeHeader(const FrameHeader& header, unsigned char out[kHeaderSize]);

}  // namespace gpupool::protocol
