#include "remoting/client/image_size.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "remoting/protocol/fatbin_format.h"
#include "remoting/protocol/frame.h"

namespace gpupool::client {
namespace {

using namespace protocol::fatbin;
constexpr unsigned char kElfMagic[4] = {0x7f, 'E', 'L', 'F'};

template <typename T>
T Load(const void* base, std::size_t offset) {
  T v;
  std::memcpy(&v, static_cast<const char*>(base) + offset, sizeof v);
  return v;
}

Result<std::size_t> ElfSize(const void* image) {
  if (Load<unsigned char>(image, 4) != 2)
    return Status::InvalidArgument("only 64-bit ELF images are supported");
  const auto phoff = Load<std::uint64_t>(image, 0x20);
  const auto shoff = Load<std::uint64_t>(image, 0x28);
  const auto phentsize = Load<std::uint16_t>(image, 0x36);
  const auto phnum = Load<std::uint16_t>(image, 0x38);
  const auto shentsize = Load<std::uint16_t>(image, 0x3a);
  const auto shnum = Load<std::uint16_t>(image, 0x3c);
  std::uint64_t end = 64;  // the ELF header itself
  if (shoff != 0) end = std::max<std::uint64_t>(end, shoff + std::uint64_t{shentsize} * shnum);
  if (phoff != 0) end = std::max<std::uint64_t>(end, phoff + std::uint64_t{phentsize} * phnum);
  // Section contents precede the section header table in cubins, but check each to be sure.
  for (std::uint16_t i = 0; shoff != 0 && i < shnum; ++i) {
    const std::size_t sh = shoff + std::size_t{i} * shentsize;
    const auto type = Load<std::uint32_t>(image, sh + 4);
    const auto offset = Load<std::uint64_t>(image, sh + 0x18);
    const auto size = Load<std::uint64_t>(image, sh + 0x20);
    if (type != 8 /* SHT_NOBITS */) end = std::max<std::uint64_t>(end, offset + size);
  }
  if (end > protocol::kMaxImageBytes) return Status::InvalidArgument("ELF image larger than the limit");
  return static_cast<std::size_t>(end);
}

}  // namespace

Result<ImageSpan> FindImageSpan(const void* image) {
  if (image == nullptr) return Status::InvalidArgument("null image");
  const auto magic = Load<std::uint32_t>(image, 0);
  if (magic == kWrapperMagic) {
    const void* fatbin = Load<const void*>(image, kWrapperContainerOffset);
    if (fatbin == nullptr || Load<std::uint32_t>(fatbin, 0) != kContainerMagic) {
      return Status::InvalidArgument("fatbin wrapper does not point to a fatbin");
    }
    return FindImageSpan(fatbin);
  }
  if (magic == kContainerMagic) {
    const auto header = Load<std::uint16_t>(image, kContainerHeaderSizeOffset);
    const auto payload = Load<std::uint64_t>(image, kContainerEntriesSizeOffset);
    if (payload > protocol::kMaxImageBytes) return Status::InvalidArgument("fatbin larger than the limit");
    return ImageSpan{image, header + static_cast<std::size_t>(payload)};
  }
  if (std::memcmp(image, kElfMagic, sizeof kElfMagic) == 0) {
    GPUPOOL_ASSIGN_OR_RETURN(std::size_t size, ElfSize(image));
    return ImageSpan{image, size};
  }
  // Anything else is taken as PTX text, which the server's driver validates.
  const std::size_t length = std::strlen(static_cast<const char*>(image));
  if (length + 1 > protocol::kMaxImageBytes)
    return Status::InvalidArgument("PTX image larger than the limit");
  return ImageSpan{image, length + 1};
}

}  // namespace gpupool::client
