// Reader: strict, bounds-checked decoding of one frame's payload. Every read checks the bytes left
// first; lengths and counts are checked against what remains and against frame.h's limits before
// anything is allocated, so a hostile length can neither overflow nor exhaust memory.
//
// The first failure sticks: later reads fail too, and status() says what went wrong first.
//
// Thread-safety: a value; one thread at a time. The Reader borrows `data`, which must outlive it,
// and so do string_views it returns from RawView/Rest.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/status.h"
#include "remoting/protocol/frame.h"

namespace gpupool::protocol {

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool U8(std::uint8_t* v) { return Get(v); }
  bool U16(std::uint16_t* v) { return Get(v); }
  bool U32(std::uint32_t* v) { return Get(v); }
  bool U64(std::uint64_t* v) { return Get(v); }
  bool I32(std::int32_t* v) { return Get(v); }
  bool I64(std::int64_t* v) { return Get(v); }
  bool F32(float* v) { return Get(v); }
  bool F64(double* v) { return Get(v); }
  // u32 length + bytes, at most `max_bytes`.
  bool Str(std::string* out, std::size_t max_bytes = kMaxStringBytes);
  // u32 count + items, at most kMaxListItems.
  template <typename T>
  bool Vec(std::vector<T>* out);
  // Exactly `size` raw bytes, viewed in place.
  bool RawView(std::size_t size, std::string_view* out);

  // What is left unread (a call's bulk tail), viewed in place; consumes it.
  std::string_view Rest();
  std::size_t remaining() const { return data_.size() - pos_; }
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // Fails unless every byte was consumed: trailing garbage is an error, not padding.
  Status ExpectEnd();
  // Records a failure (for checks the caller makes on decoded values).
  bool Fail(std::string message);

 private:
  template <typename T>
  bool Get(T* v) {
    static_assert(std::is_arithmetic_v<T>);
    if (!ok()) return false;
    if (remaining() < sizeof(T))
      return Fail("truncated payload: need " + std::to_string(sizeof(T)) + " bytes");
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  std::string_view data_;
  std::size_t pos_ = 0;
  Status status_;
};

template <typename T>
bool Reader::Vec(std::vector<T>* out) {
  std::uint32_t count = 0;
  if (!U32(&count)) return false;
  if (count > kMaxListItems) return Fail("list of " + std::to_string(count) + " items exceeds the limit");
  if (count > remaining() / sizeof(T)) return Fail("truncated payload: list longer than the frame");
  out->resize(count);
  for (T& item : *out) Get(&item);
  return ok();
}

// Decodes and checks a frame header: known flags, payload within kMaxPayload.
Result<FrameHeader> DecodeHeader(const unsigned char in[kHeaderSize]);

}  // namespace gpupool::protocol
