// The fatbin layout as far as gpupool reads it, in one place for the sides that do: the client
// (image extents, image_size.h; trimming, fatbin_trim.h), the server's image checks (image_check.h)
// and the emulated device's loader (emulated/image.h). All fields little-endian.
//
//   wrapper    u32 magic, u32 version, const void* container at 8 (in the program's memory only)
//   container  u32 magic, u16 version, u16 header size at 6, u64 entries size at 8, then the entries
//   entry      u16 kind at 0, u32 header size at 4, u64 payload size at 8, u32 compressed size at 16,
//              u32 arch at 28 (e.g. 90), u64 flags at 40, u64 decompressed size at 56
//
// Header-only constants.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpupool::protocol::fatbin {

inline constexpr std::uint32_t kWrapperMagic = 0x466243b1;
inline constexpr std::size_t kWrapperContainerOffset = 8;

inline constexpr std::uint32_t kContainerMagic = 0xba55ed50;
inline constexpr std::size_t kContainerHeaderSizeOffset = 6;
inline constexpr std::size_t kContainerEntriesSizeOffset = 8;
inline constexpr std::size_t kMinContainerHeader = 16;

inline constexpr std::size_t kEntryHeaderSizeOffset = 4;
inline constexpr std::size_t kEntryPayloadSizeOffset = 8;
inline constexpr std::size_t kEntryCompressedSizeOffset = 16;
inline constexpr std::size_t kEntryArchOffset = 28;
inline constexpr std::size_t kEntryFlagsOffset = 40;
inline constexpr std::size_t kEntryDecompressedSizeOffset = 56;

inline constexpr std::uint16_t kEntryPtx = 1;
inline constexpr std::uint16_t kEntryElf = 2;

// Entry flags that mark a compressed payload: LZ4 (cuFFT's images, older toolkits), zstd (nvcc's
// default since CUDA 12.x).
inline constexpr std::uint64_t kFlagCompressedLz4 = 0x2000;
inline constexpr std::uint64_t kFlagCompressedZstd = 0x8000;

}  // namespace gpupool::protocol::fatbin
