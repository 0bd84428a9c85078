#include "remoting/server/image_check.h"

#include <cstdint>
#include <cstring>

#include "remoting/protocol/fatbin_format.h"

namespace gpupool::server {
namespace {

template <typename T>
bool ReadAt(std::string_view image, std::uint64_t offset, T* out) {
  if (offset > image.size() || sizeof(T) > image.size() - offset) return false;
  std::memcpy(out, image.data() + offset, sizeof(T));
  return true;
}

// [offset, offset + count * entry) inside the image, without overflow.
bool TableFits(std::string_view image, std::uint64_t offset, std::uint64_t count, std::uint64_t entry) {
  if (count != 0 && entry > UINT64_MAX / count) return false;
  std::uint64_t bytes = count * entry;
  return offset <= image.size() && bytes <= image.size() - offset;
}

bool ElfComplete(std::string_view image) {
  unsigned char elf_class = 0;
  if (!ReadAt(image, 4, &elf_class) || elf_class != 2) return false;  // 64-bit cubins only
  std::uint64_t phoff = 0, shoff = 0;
  std::uint16_t phentsize = 0, phnum = 0, shentsize = 0, shnum = 0;
  if (!ReadAt(image, 0x20, &phoff) || !ReadAt(image, 0x28, &shoff) || !ReadAt(image, 0x36, &phentsize) ||
      !ReadAt(image, 0x38, &phnum) || !ReadAt(image, 0x3a, &shentsize) || !ReadAt(image, 0x3c, &shnum)) {
    return false;
  }
  if (!TableFits(image, phoff, phnum, phentsize) || !TableFits(image, shoff, shnum, shentsize)) return false;
  if (shnum != 0 && shentsize < 64) return false;
  for (std::uint16_t i = 0; i < shnum; ++i) {
    std::uint64_t header = shoff + std::uint64_t{i} * shentsize;
    std::uint32_t type = 0;
    std::uint64_t offset = 0, size = 0;
    if (!ReadAt(image, header + 4, &type) || !ReadAt(image, header + 0x18, &offset) ||
        !ReadAt(image, header + 0x20, &size)) {
      return false;
    }
    if (type != 8 /* SHT_NOBITS */ && !TableFits(image, offset, 1, size)) return false;
  }
  return true;
}

bool FatbinComplete(std::string_view image) {
  std::uint16_t header_size = 0;
  std::uint64_t fat_size = 0;
  if (!ReadAt(image, protocol::fatbin::kContainerHeaderSizeOffset, &header_size) ||
      !ReadAt(image, protocol::fatbin::kContainerEntriesSizeOffset, &fat_size))
    return false;
  return header_size >= protocol::fatbin::kMinContainerHeader && TableFits(image, header_size, 1, fat_size);
}

}  // namespace

CUresult CheckImage(std::string_view image) {
  std::uint32_t magic = 0;
  if (!ReadAt(image, 0, &magic)) return CUDA_ERROR_INVALID_IMAGE;
  if (magic == protocol::fatbin::kWrapperMagic) return CUDA_ERROR_INVALID_IMAGE;  // holds a client pointer
  if (image.substr(0, 4) ==
      "\x7f"
      "ELF")
    return ElfComplete(image) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_IMAGE;
  if (magic == protocol::fatbin::kContainerMagic)
    return FatbinComplete(image) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_IMAGE;
  // PTX (or anything else the driver parses as text): the cache keeps every image in a std::string,
  // whose bytes are always followed by a NUL, so the driver's scan ends inside our memory.
  return CUDA_SUCCESS;
}

}  // namespace gpupool::server
