#include "remoting/client/nvml/pci_bus_id.h"

#include <catch2/catch.hpp>

namespace gpupool::nvml {
namespace {

TEST_CASE("nvml: PCI bus ids are read in NVML's and CUDA's forms") {
  const PciAddress expected{0, 0x18, 0, 0};
  CHECK(ParsePciBusId("00000000:18:00.0") == expected);
  CHECK(ParsePciBusId("0000:18:00.0") == expected);
  CHECK(ParsePciBusId("18:00.0") == expected);
  CHECK(ParsePciBusId("18:00") == expected);
  CHECK(ParsePciBusId("0001:AB:1f.7") == PciAddress{1, 0xab, 0x1f, 7});
  CHECK(ParsePciBusId("ffffffff:ff:1f.7") == PciAddress{0xffffffff, 0xff, 0x1f, 7});
}

TEST_CASE("nvml: a malformed PCI bus id is refused") {
  for (const char* bad :
       {"", ":", "18", "18:", "0000:18:00.", "0000:18:00.0 ", "100000000:18:00.0", "0000:118:00.0",
        "0000:18:20.0", "0000:18:00.8", "0000:18:000.0", "0000:g8:00.0", "0:0:0:0.0", "x0000:18:00.0"}) {
    INFO(bad);
    CHECK_FALSE(ParsePciBusId(bad).has_value());
  }
}

TEST_CASE("nvml: PCI bus ids are written with an 8- or 4-digit domain") {
  const PciAddress address{0, 0x18, 3, 1};
  CHECK(FormatPciBusId(address, 8) == "00000000:18:03.1");
  CHECK(FormatPciBusId(address, 4) == "0000:18:03.1");
  CHECK(ParsePciBusId(FormatPciBusId(PciAddress{0xabcd, 0xef, 0x1e, 6}, 8)) ==
        PciAddress{0xabcd, 0xef, 0x1e, 6});
}

}  // namespace
}  // namespace gpupool::nvml
