// Bytes per element of a CUDA array: the format's bytes per channel times the channel count, for
// the formats gpupool forwards. Format codes are CUarray_format's values from cuda.h (they travel on
// the wire as u32; this layer has no CUDA headers). Copies with array sides are sized and
// bounds-checked with this on both the client and the server.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

namespace gpupool::protocol {

// Bytes of one channel of `format`, and the channel count the format itself fixes (0: any of
// 1, 2 or 4, given by the descriptor). 0 bytes: a format gpupool does not forward (block-compressed,
// YUV and packed formats, whose elements are not whole channels).
struct ArrayFormatInfo {
  std::uint32_t channel_bytes = 0;
  std::uint32_t fixed_channels = 0;
};

constexpr ArrayFormatInfo ArrayFormat(std::uint32_t format) {
  switch (format) {
    case 0x01:
    case 0x08: return {1, 0};  // UNSIGNED_INT8, SIGNED_INT8
    case 0x02:
    case 0x09:
    case 0x10: return {2, 0};  // UNSIGNED_INT16, SIGNED_INT16, HALF
    case 0x03:
    case 0x0a:
    case 0x20: return {4, 0};  // UNSIGNED_INT32, SIGNED_INT32, FLOAT
    case 0xc0:
    case 0xc6: return {1, 1};  // UNORM_INT8X1, SNORM_INT8X1
    case 0xc1:
    case 0xc7: return {1, 2};  // UNORM_INT8X2, SNORM_INT8X2
    case 0xc2:
    case 0xc8: return {1, 4};  // UNORM_INT8X4, SNORM_INT8X4
    case 0xc3:
    case 0xc9: return {2, 1};  // UNORM_INT16X1, SNORM_INT16X1
    case 0xc4:
    case 0xca: return {2, 2};  // UNORM_INT16X2, SNORM_INT16X2
    case 0xc5:
    case 0xcb: return {2, 4};  // UNORM_INT16X4, SNORM_INT16X4
    default: return {};
  }
}

// Bytes per element, or 0 when the format is not forwarded or the channel count is not 1, 2 or 4
// (or not the one the format fixes).
constexpr std::uint32_t ArrayElementBytes(std::uint32_t format, std::uint32_t channels) {
  const ArrayFormatInfo info = ArrayFormat(format);
  if (info.channel_bytes == 0 || (channels != 1 && channels != 2 && channels != 4)) return 0;
  if (info.fixed_channels != 0 && channels != info.fixed_channels) return 0;
  return info.channel_bytes * channels;
}

// The extent of an array in copy units: bytes per row, rows per slice and slices (height 0 and
// depth 0 count as 1). Valid when element_bytes != 0.
struct ArrayExtent {
  std::uint64_t row_bytes = 0, rows = 0, slices = 0;
};

constexpr ArrayExtent ArrayExtentOf(std::uint64_t width, std::uint64_t height, std::uint64_t depth,
                                    std::uint32_t element_bytes) {
  return {width * element_bytes, height == 0 ? 1 : height, depth == 0 ? 1 : depth};
}

// Whether a box of `width` bytes x `height` rows x `depth` slices at (x bytes, y, z) lies inside
// the extent (overflow-safe).
constexpr bool ArrayBoxInside(const ArrayExtent& e, std::uint64_t x, std::uint64_t y, std::uint64_t z,
                              std::uint64_t width, std::uint64_t height, std::uint64_t depth) {
  return x <= e.row_bytes && width <= e.row_bytes - x && y <= e.rows && height <= e.rows - y &&
         z <= e.slices && depth <= e.slices - z;
}

}  // namespace gpupool::protocol
