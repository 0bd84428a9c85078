#include "remoting/client/dark_api/integrity_check.h"

#include "remoting/client/dark_api/md2.h"

namespace gpupool::dark_api {
namespace {

// The HMAC key. ZLUDA derives it in a first pass that reads no input; this is its value.
constexpr std::array<std::uint8_t, 16> kKey = {0x14, 0x6a, 0xdd, 0xae, 0x53, 0xa9, 0xa7, 0x52,
                                               0xaa, 0x08, 0x41, 0x36, 0x0b, 0xf5, 0x5a, 0x9f};

// Answers for requested versions ending in 0 and 1, which the runtime checks without hashing.
constexpr std::array<std::uint64_t, 2> kVersion0Answer = {0x3341181c03cb675cull, 0x8ed383aa1f4cd1e8ull};
constexpr std::array<std::uint64_t, 2> kVersion1Answer = {0x1841181c03cb675cull, 0x8ed383aa1f4cd1e8ull};

template <typename T>
void Append(std::vector<std::uint8_t>& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i)));
  }
}

}  // namespace

std::vector<std::uint8_t> IntegrityMessage(const IntegrityInputs& in,
                                           std::span<const DeviceIdentity> devices) {
  std::vector<std::uint8_t> out;
  out.reserve(48 + 28 * devices.size());
  Append(out, in.driver_version);
  Append(out, in.requested_version);
  Append(out, in.process_id);
  Append(out, in.thread_id);
  Append(out, in.cudart_table);
  Append(out, in.integrity_table);
  Append(out, in.check_function);
  Append(out, in.unix_seconds);
  for (const DeviceIdentity& device : devices) {
    for (char byte : device.uuid.bytes) out.push_back(static_cast<std::uint8_t>(byte));
    Append(out, static_cast<std::uint32_t>(device.pci_domain));
    Append(out, static_cast<std::uint32_t>(device.pci_bus));
    Append(out, static_cast<std::uint32_t>(device.pci_device));
  }
  return out;
}

std::array<std::uint64_t, 2> IntegrityAnswer(const IntegrityInputs& inputs,
                                             std::span<const DeviceIdentity> devices) {
  switch (inputs.requested_version % 10) {
    case 0: return kVersion0Answer;
    case 1: return kVersion1Answer;
    default: break;
  }
  const Md2Digest digest = HmacMd2(kKey, IntegrityMessage(inputs, devices));
  std::array<std::uint64_t, 2> words{};
  for (int i = 0; i < 16; ++i) words[i / 8] |= static_cast<std::uint64_t>(digest[i]) << (8 * (i % 8));
  return words;
}

}  // namespace gpupool::dark_api
