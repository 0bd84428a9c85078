#include "remoting/client/fatbin_trim.h"

#include <cstdint>
#include <cstring>

#include "remoting/protocol/fatbin_format.h"

namespace gpupool::client {
namespace {

using namespace protocol::fatbin;

template <typename T>
T Load(const char* base, std::size_t offset) {
  T v;
  std::memcpy(&v, base + offset, sizeof v);
  return v;
}

bool Usable(std::uint16_t kind, std::uint32_t arch, std::span<const GpuArch> gpus) {
  const int major = static_cast<int>(arch / 10), minor = static_cast<int>(arch % 10);
  for (const GpuArch& gpu : gpus) {
    if (kind == kEntryElf && major == gpu.major && minor <= gpu.minor) return true;
    if (kind == kEntryPtx && (major < gpu.major || (major == gpu.major && minor <= gpu.minor))) return true;
  }
  return kind != kEntryElf && kind != kEntryPtx;  // a kind we do not know: keep it
}

}  // namespace

std::optional<std::string> TrimFatbin(const void* data, std::size_t size, std::span<const GpuArch> gpus) {
  const char* bytes = static_cast<const char*>(data);
  if (gpus.empty() || size < kMinContainerHeader || Load<std::uint32_t>(bytes, 0) != kContainerMagic)
    return std::nullopt;
  const std::size_t header = Load<std::uint16_t>(bytes, kContainerHeaderSizeOffset);
  const std::uint64_t entries = Load<std::uint64_t>(bytes, kContainerEntriesSizeOffset);
  if (header < kMinContainerHeader || header > size || entries != size - header) return std::nullopt;

  std::string kept(bytes, header);
  bool dropped = false, usable = false;
  for (std::size_t at = header; at < size;) {
    if (size - at < kEntryArchOffset + 4) return std::nullopt;
    const auto kind = Load<std::uint16_t>(bytes, at);
    const std::size_t entry_header = Load<std::uint32_t>(bytes, at + kEntryHeaderSizeOffset);
    const std::uint64_t payload = Load<std::uint64_t>(bytes, at + kEntryPayloadSizeOffset);
    if (entry_header < kEntryArchOffset + 4 || entry_header > size - at || payload > size - at - entry_header)
      return std::nullopt;
    const std::size_t length = entry_header + payload;
    if (Usable(kind, Load<std::uint32_t>(bytes, at + kEntryArchOffset), gpus)) {
      kept.append(bytes + at, length);
      usable = usable || kind == kEntryElf || kind == kEntryPtx;
    } else {
      dropped = true;
    }
    at += length;
  }
  if (!dropped || !usable) return std::nullopt;
  const std::uint64_t kept_entries = kept.size() - header;
  std::memcpy(kept.data() + kContainerEntriesSizeOffset, &kept_entries, sizeof kept_entries);
  return kept;
}

}  // namespace gpupool::client
