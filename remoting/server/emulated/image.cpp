// ParseModuleImage: format detection and fatbin entry selection.
#include "remoting/server/emulated/image.h"

#include <lz4.h>
#include <zstd.h>

#include <cstring>
#include <limits>
#include <vector>

#include "remoting/protocol/fatbin_format.h"
#include "remoting/server/emulated/byte_reader.h"
#include "remoting/server/emulated/cubin.h"
#include "remoting/server/emulated/ptx.h"

namespace gpupool::server::emulated {
namespace {

using namespace protocol::fatbin;
constexpr std::uint64_t kMaxDecompressed = 1ULL << 30;

// A reader over `bytes` from a pointer the API handed us without a size.
ByteReader Unsized(const void* p, std::uint64_t bytes) {
  return ByteReader(static_cast<const std::uint8_t*>(p), bytes);
}

CUresult Fail(CUresult code, std::string message, std::string* error) {
  *error = std::move(message);
  return code;
}

CUresult FromCubin(const ByteReader& elf, ModuleImage* out, std::string* error) {
  const int arch = CubinArch(elf);
  if (arch != kEmulatedArch) {
    return Fail(CUDA_ERROR_NO_BINARY_FOR_GPU,
                "cubin is for sm_" + std::to_string(arch) + ", the emulated device is sm_90", error);
  }
  Result<ModuleImage> parsed = ParseCubin(elf);
  if (!parsed.ok()) return Fail(CUDA_ERROR_INVALID_IMAGE, parsed.status().message(), error);
  *out = std::move(parsed).value();
  return CUDA_SUCCESS;
}

CUresult FromPtx(std::string_view text, ModuleImage* out, std::string* error) {
  Result<ModuleImage> parsed = ParsePtx(text);
  if (!parsed.ok()) return Fail(CUDA_ERROR_INVALID_PTX, parsed.status().message(), error);
  *out = std::move(parsed).value();
  return CUDA_SUCCESS;
}

// A cubin's extent as its header states it: the end of the section table or of the program headers,
// whichever is further (nvcc puts the contents before both). Sections claiming to lie beyond it make
// the image invalid rather than extend the read.
std::uint64_t ElfExtent(const void* image) {
  const ByteReader header = Unsized(image, 64);
  const std::uint64_t table_end = CubinSize(header);
  std::uint64_t phoff = 0;
  std::uint16_t phentsize = 0, phnum = 0;
  (void)header.Read(32, &phoff);
  (void)header.Read(54, &phentsize);
  (void)header.Read(56, &phnum);
  const std::uint64_t ph_end = phoff + std::uint64_t{phentsize} * phnum;
  const std::uint64_t extent = ph_end >= phoff && ph_end > table_end ? ph_end : table_end;
  return extent < 64 || extent > (1ULL << 32) ? 0 : extent;
}

struct Entry {
  std::uint16_t kind = 0;
  std::uint32_t arch = 0;
  std::uint64_t flags = 0;
  ByteReader payload{nullptr, 0};
  std::uint32_t compressed_size = 0;  // bytes of the payload in use when compressed
  std::uint64_t decompressed_size = 0;
};

// An entry's bytes, decompressed into `storage` when the entry is compressed (LZ4: cuFFT's images,
// built by older toolkits; zstd: nvcc's default since CUDA 12.x).
CUresult EntryBytes(const Entry& e, std::vector<std::uint8_t>* storage, ByteReader* out, std::string* error) {
  const std::string what =
      std::string(e.kind == kEntryElf ? "cubin" : "PTX") + " for sm_" + std::to_string(e.arch);
  const bool lz4 = (e.flags & kFlagCompressedLz4) != 0;
  if (!lz4 && (e.flags & kFlagCompressedZstd) == 0) {
    *out = e.payload;
    return CUDA_SUCCESS;
  }
  if (e.compressed_size == 0 || e.compressed_size > e.payload.size() || e.decompressed_size == 0 ||
      e.decompressed_size > kMaxDecompressed) {
    return Fail(CUDA_ERROR_INVALID_IMAGE, "fatbin: bad sizes in the compressed " + what + " entry", error);
  }
  storage->resize(e.decompressed_size);
  bool whole = false;
  if (lz4) {
    // Both sizes fit an int: kMaxDecompressed is 1 GiB and the compressed size a u32 no larger.
    const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(e.payload.data()),
                                      reinterpret_cast<char*>(storage->data()),
                                      static_cast<int>(e.compressed_size), static_cast<int>(storage->size()));
    whole = n >= 0 && static_cast<std::uint64_t>(n) == e.decompressed_size;
  } else {
    const std::size_t n =
        ZSTD_decompress(storage->data(), storage->size(), e.payload.data(), e.compressed_size);
    whole = !ZSTD_isError(n) && n == e.decompressed_size;
  }
  if (!whole) {
    return Fail(CUDA_ERROR_INVALID_IMAGE, "fatbin: the compressed " + what + " entry does not decompress",
                error);
  }
  *out = ByteReader(storage->data(), storage->size());
  return CUDA_SUCCESS;
}

CUresult FromFatbin(const ByteReader& fatbin, ModuleImage* out, std::string* error) {
  std::uint16_t header_size = 0;
  std::uint64_t entries_size = 0;
  if (!fatbin.Read(kContainerHeaderSizeOffset, &header_size) ||
      !fatbin.Read(kContainerEntriesSizeOffset, &entries_size) || header_size < kMinContainerHeader) {
    return Fail(CUDA_ERROR_INVALID_IMAGE, "fatbin: bad container header", error);
  }
  const Entry* cubin = nullptr;
  const Entry* ptx = nullptr;
  std::vector<Entry> entries;
  entries.reserve(256);
  for (std::uint64_t at = header_size; at < fatbin.size();) {
    Entry e;
    std::uint32_t entry_header = 0;
    std::uint64_t size = 0;
    if (!fatbin.Read(at, &e.kind) || !fatbin.Read(at + kEntryHeaderSizeOffset, &entry_header) ||
        !fatbin.Read(at + kEntryPayloadSizeOffset, &size) ||
        !fatbin.Read(at + kEntryCompressedSizeOffset, &e.compressed_size) ||
        !fatbin.Read(at + kEntryArchOffset, &e.arch) || !fatbin.Read(at + kEntryFlagsOffset, &e.flags) ||
        entry_header < 64 || !fatbin.Read(at + kEntryDecompressedSizeOffset, &e.decompressed_size) ||
        !fatbin.Has(at + entry_header, size)) {
      return Fail(CUDA_ERROR_INVALID_IMAGE, "fatbin: entry at offset " + std::to_string(at) + " is truncated",
                  error);
    }
    e.payload = fatbin.Slice(at + entry_header, size);
    at += entry_header + size;
    if (entries.size() == entries.capacity()) break;  // more entries than any real fatbin: ignore the rest
    entries.push_back(e);
    const Entry* kept = &entries.back();
    if (e.kind == kEntryElf && e.arch == kEmulatedArch) cubin = kept;
    if (e.kind == kEntryPtx && e.arch <= kEmulatedArch && (ptx == nullptr || e.arch > ptx->arch)) ptx = kept;
  }
  std::vector<std::uint8_t> storage;
  ByteReader bytes(nullptr, 0);
  if (cubin != nullptr) {
    if (CUresult r = EntryBytes(*cubin, &storage, &bytes, error); r != CUDA_SUCCESS) return r;
    return FromCubin(bytes, out, error);
  }
  if (ptx != nullptr) {
    if (CUresult r = EntryBytes(*ptx, &storage, &bytes, error); r != CUDA_SUCCESS) return r;
    const void* nul = std::memchr(bytes.data(), 0, bytes.size());
    const std::size_t length = nul ? static_cast<const std::uint8_t*>(nul) - bytes.data() : bytes.size();
    return FromPtx(std::string_view(reinterpret_cast<const char*>(bytes.data()), length), out, error);
  }
  return Fail(CUDA_ERROR_NO_BINARY_FOR_GPU, "fatbin: no sm_90 cubin and no PTX for <= sm_90", error);
}

}  // namespace

CUresult ParseModuleImage(const void* image, ModuleImage* out, std::string* error) {
  if (image == nullptr) return Fail(CUDA_ERROR_INVALID_VALUE, "null image", error);
  // Every magic is 4 bytes without a NUL, so shorter text is PTX (and is not read past its end).
  if (strnlen(static_cast<const char*>(image), 4) < 4) {
    return FromPtx(std::string_view(static_cast<const char*>(image)), out, error);
  }
  std::uint32_t magic = 0;
  std::memcpy(&magic, image, sizeof(magic));
  if (magic == kWrapperMagic) {
    const void* container = nullptr;
    std::memcpy(&container, static_cast<const std::uint8_t*>(image) + kWrapperContainerOffset,
                sizeof(container));
    if (container == nullptr) return Fail(CUDA_ERROR_INVALID_IMAGE, "fatbin wrapper without data", error);
    return ParseModuleImage(container, out, error);
  }
  if (magic == kContainerMagic) {
    std::uint16_t header_size = 0;
    std::uint64_t entries_size = 0;
    std::memcpy(&header_size, static_cast<const std::uint8_t*>(image) + kContainerHeaderSizeOffset,
                sizeof(header_size));
    std::memcpy(&entries_size, static_cast<const std::uint8_t*>(image) + kContainerEntriesSizeOffset,
                sizeof(entries_size));
    if (entries_size > std::numeric_limits<std::uint32_t>::max()) {
      return Fail(CUDA_ERROR_INVALID_IMAGE, "fatbin: implausible size", error);
    }
    return FromFatbin(Unsized(image, header_size + entries_size), out, error);
  }
  if (std::memcmp(image,
                  "\x7f"
                  "ELF",
                  4) == 0) {
    const std::uint64_t extent = ElfExtent(image);
    if (extent == 0) return Fail(CUDA_ERROR_INVALID_IMAGE, "cubin: bad ELF header", error);
    return FromCubin(Unsized(image, extent), out, error);
  }
  return FromPtx(std::string_view(static_cast<const char*>(image)), out, error);
}

}  // namespace gpupool::server::emulated
