// ByteReader: bounds-checked little-endian reads from an untrusted image. Every read reports
// failure instead of touching memory outside [data, data + size).
//
// Thread-safety: a value over borrowed bytes; the bytes must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace gpupool::server::emulated {

class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::size_t size() const { return size_; }
  const std::uint8_t* data() const { return data_; }

  // True when [offset, offset + bytes) lies inside the image (no overflow).
  bool Has(std::uint64_t offset, std::uint64_t bytes) const {
    return offset <= size_ && bytes <= size_ - offset;
  }
  template <typename T>
  bool Read(std::uint64_t offset, T* out) const {
    static_assert(std::is_trivially_copyable_v<T>);
    if (!Has(offset, sizeof(T))) return false;
    std::memcpy(out, data_ + offset, sizeof(T));
    return true;
  }
  // A sub-range, or an empty reader when out of bounds (check with Has first).
  ByteReader Slice(std::uint64_t offset, std::uint64_t bytes) const {
    return Has(offset, bytes) ? ByteReader(data_ + offset, bytes) : ByteReader(nullptr, 0);
  }
  // The NUL-terminated string at `offset`, which must end inside the image.
  bool String(std::uint64_t offset, std::string_view* out) const {
    if (offset >= size_) return false;
    const void* nul = std::memchr(data_ + offset, 0, size_ - offset);
    if (nul == nullptr) return false;
    *out = std::string_view(reinterpret_cast<const char*>(data_ + offset),
                            static_cast<const std::uint8_t*>(nul) - (data_ + offset));
    return true;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

}  // namespace gpupool::server::emulated
