// ParseModuleImage: format detection and fatbin entry selection.
#include "remoting/server/emulated/image.h"

#include <cstring>
#include <limits>

#include "remoting/server/emulated/byte_reader.h"
#include "remoting/server/emulated/cubin.h"
#include "remoting/server/emulated/ptx.h"

namespace gpupool::server::emulated {
namespace {

constexpr std::uint32_t kWrapperMagic = 0x466243b1;
constexpr std::uint32_t kFatbinMagic = 0xba55ed50;
constexpr std::uint16_t kEntryPtx = 1;
constexpr std::uint16_t kEntryElf = 2;
// Entry flags that mark a compressed payload (LZ4 in older toolkits, zstd since CUDA 12.x).
constexpr std::uint64_t kFlagCompressedLz4 = 0x2000;
constexpr std::uint64_t kFlagCompressedZstd = 0x8000;

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

CUresult FromFatbin(const ByteReader& fatbin, ModuleImage* out, std::string* error) {
  std::uint16_t header_size = 0;
  std::uint64_t entries_size = 0;
  if (!fatbin.Read(6, &header_size) || !fatbin.Read(8, &entries_size) || header_size < 16) {
    return Fail(CUDA_ERROR_INVALID_IMAGE, "fatbin: bad container header", error);
  }
  ByteReader cubin(nullptr, 0), ptx(nullptr, 0);
  std::string compressed;
  int ptx_arch = -1;
  for (std::uint64_t at = header_size; at < fatbin.size();) {
    std::uint16_t kind = 0;
    std::uint32_t entry_header = 0, arch = 0;
    std::uint64_t size = 0, flags = 0;
    if (!fatbin.Read(at, &kind) || !fatbin.Read(at + 4, &entry_header) || !fatbin.Read(at + 8, &size) ||
        !fatbin.Read(at + 28, &arch) || !fatbin.Read(at + 40, &flags) || entry_header < 48 ||
        !fatbin.Has(at + entry_header, size)) {
      return Fail(CUDA_ERROR_INVALID_IMAGE, "fatbin: entry at offset " + std::to_string(at) + " is truncated",
                  error);
    }
    const ByteReader payload = fatbin.Slice(at + entry_header, size);
    const bool is_compressed = (flags & (kFlagCompressedLz4 | kFlagCompressedZstd)) != 0;
    const bool usable_elf = kind == kEntryElf && arch == kEmulatedArch;
    const bool usable_ptx = kind == kEntryPtx && arch <= kEmulatedArch && static_cast<int>(arch) > ptx_arch;
    if ((usable_elf || usable_ptx) && is_compressed) {
      compressed = std::string(kind == kEntryElf ? "cubin" : "PTX") + " for sm_" + std::to_string(arch);
    } else if (usable_elf) {
      cubin = payload;
    } else if (usable_ptx) {
      ptx = payload;
      ptx_arch = static_cast<int>(arch);
    }
    at += entry_header + size;
  }
  if (cubin.size() > 0) return FromCubin(cubin, out, error);
  if (ptx.size() > 0) {
    const void* nul = std::memchr(ptx.data(), 0, ptx.size());
    const std::size_t length = nul ? static_cast<const std::uint8_t*>(nul) - ptx.data() : ptx.size();
    return FromPtx(std::string_view(reinterpret_cast<const char*>(ptx.data()), length), out, error);
  }
  if (!compressed.empty()) {
    return Fail(CUDA_ERROR_NOT_SUPPORTED,
                "fatbin: the " + compressed +
                    " entry is compressed and the emulated device cannot "
                    "decompress it (build with nvcc -no-compress)",
                error);
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
    std::memcpy(&container, static_cast<const std::uint8_t*>(image) + 8, sizeof(container));
    if (container == nullptr) return Fail(CUDA_ERROR_INVALID_IMAGE, "fatbin wrapper without data", error);
    return ParseModuleImage(container, out, error);
  }
  if (magic == kFatbinMagic) {
    std::uint16_t header_size = 0;
    std::uint64_t entries_size = 0;
    std::memcpy(&header_size, static_cast<const std::uint8_t*>(image) + 6, sizeof(header_size));
    std::memcpy(&entries_size, static_cast<const std::uint8_t*>(image) + 8, sizeof(entries_size));
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
