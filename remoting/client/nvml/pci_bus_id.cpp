#include "remoting/client/nvml/pci_bus_id.h"

#include <cstdio>

namespace gpupool::nvml {
namespace {

// Reads 1 to `max_digits` hex digits from the front of `text` into `value`.
bool TakeHex(std::string_view* text, std::size_t max_digits, unsigned* value) {
  std::size_t n = 0;
  unsigned v = 0;
  while (n < text->size() && n < max_digits + 1) {
    const char c = (*text)[n];
    unsigned digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      break;
    }
    v = v * 16 + digit;
    ++n;
  }
  if (n == 0 || n > max_digits) return false;
  text->remove_prefix(n);
  *value = v;
  return true;
}

bool TakeChar(std::string_view* text, char c) {
  if (text->empty() || text->front() != c) return false;
  text->remove_prefix(1);
  return true;
}

}  // namespace

std::optional<PciAddress> ParsePciBusId(std::string_view text) {
  PciAddress a;
  // Two colons: the domain is given.
  const bool has_domain = text.find(':') != text.rfind(':');
  if (has_domain && !(TakeHex(&text, 8, &a.domain) && TakeChar(&text, ':'))) return std::nullopt;
  if (!TakeHex(&text, 2, &a.bus) || !TakeChar(&text, ':') || !TakeHex(&text, 2, &a.device))
    return std::nullopt;
  if (TakeChar(&text, '.') && !TakeHex(&text, 1, &a.function)) return std::nullopt;
  if (!text.empty() || a.device >= 32 || a.function >= 8) return std::nullopt;
  return a;
}

std::string FormatPciBusId(const PciAddress& address, int digits_of_domain) {
  char out[32];
  std::snprintf(out, sizeof out, "%0*x:%02x:%02x.%x", digits_of_domain, address.domain, address.bus,
                address.device, address.function);
  return out;
}

}  // namespace gpupool::nvml
