// MD2 (RFC 1319) and HMAC over it (RFC 2104): the primitives of the CUDA runtime's integrity check
// (integrity_check.h). MD2 is long broken as a hash; it is here only because the runtime uses it.
//
// Thread-safety: Md2 is a value; one thread per object.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace gpupool::dark_api {

using Md2Digest = std::array<std::uint8_t, 16>;

class Md2 {
 public:
  static constexpr std::size_t kBlockSize = 16;

  void Update(std::span<const std::uint8_t> bytes);
  // Pads, appends the checksum and returns the digest. The object is spent afterwards.
  Md2Digest Final();

 private:
  void Compress(const std::uint8_t* block);

  std::array<std::uint8_t, 48> state_{};  // RFC 1319's X: state, block, state ^ block
  std::array<std::uint8_t, 16> checksum_{};
  std::array<std::uint8_t, kBlockSize> pending_{};
  std::size_t pending_size_ = 0;
};

Md2Digest Md2Of(std::span<const std::uint8_t> bytes);

// HMAC-MD2 of `message` under `key` (RFC 2104 with B = 16, L = 16).
Md2Digest HmacMd2(std::span<const std::uint8_t> key, std::span<const std::uint8_t> message);

}  // namespace gpupool::dark_api
