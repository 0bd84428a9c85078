#include "remoting/client/dark_api/integrity_check.h"

#include <catch2/catch.hpp>

namespace gpupool::dark_api {
namespace {

DeviceIdentity ObservedDevice() {
  DeviceIdentity device;
  const unsigned char uuid[16] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                  0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xf0, 0x01};
  for (int i = 0; i < 16; ++i) device.uuid.bytes[i] = static_cast<char>(uuid[i]);
  device.pci_bus = 0x19;
  return device;
}

// Inputs and answer of one start-up of a stock nvcc program (libcudart_static 13.0.88) on an
// experimental driver; the runtime accepted the answer (cudaGetDeviceCount succeeded). With the
// lowest bit flipped the runtime failed with cudaErrorSoftwareValidityNotEstablished.
IntegrityInputs ObservedInputs() {
  IntegrityInputs in;
  in.driver_version = 13000;
  in.requested_version = 13002;
  in.process_id = 27765;
  in.thread_id = 0x77095000;
  in.cudart_table = 0x7f2476b333a0;
  in.integrity_table = 0x7f2476b341a0;
  in.check_function = 0x7f2476acfe92;
  in.unix_seconds = 1795305691;
  return in;
}

TEST_CASE("the integrity answer matches one the CUDA 13.0 runtime accepted") {
  const DeviceIdentity devices[] = {ObservedDevice()};
  const auto answer = IntegrityAnswer(ObservedInputs(), devices);
  CHECK(answer[0] == 0xa1ea3f59be5d479bull);
  CHECK(answer[1] == 0x97d978a30d258b1dull);
}

TEST_CASE("versions ending in 0 and 1 get the runtime's constants, whatever the inputs") {
  IntegrityInputs in = ObservedInputs();
  const DeviceIdentity devices[] = {ObservedDevice()};
  in.requested_version = 13000;
  CHECK(IntegrityAnswer(in, devices) ==
        std::array<std::uint64_t, 2>{0x3341181c03cb675cull, 0x8ed383aa1f4cd1e8ull});
  in.requested_version = 12081;
  in.process_id = 1;
  CHECK(IntegrityAnswer(in, {}) ==
        std::array<std::uint64_t, 2>{0x1841181c03cb675cull, 0x8ed383aa1f4cd1e8ull});
}

TEST_CASE("every input changes the integrity answer") {
  const DeviceIdentity devices[] = {ObservedDevice()};
  const auto base = IntegrityAnswer(ObservedInputs(), devices);
  struct Change {
    const char* what;
    void (*apply)(IntegrityInputs&, DeviceIdentity&);
  };
  const Change changes[] = {
      {"driver version", [](IntegrityInputs& in, DeviceIdentity&) { in.driver_version = 13010; }},
      {"requested version", [](IntegrityInputs& in, DeviceIdentity&) { in.requested_version = 13003; }},
      {"process", [](IntegrityInputs& in, DeviceIdentity&) { in.process_id += 1; }},
      {"thread", [](IntegrityInputs& in, DeviceIdentity&) { in.thread_id ^= 0x1000; }},
      {"cudart table", [](IntegrityInputs& in, DeviceIdentity&) { in.cudart_table += 8; }},
      {"integrity table", [](IntegrityInputs& in, DeviceIdentity&) { in.integrity_table += 8; }},
      {"function", [](IntegrityInputs& in, DeviceIdentity&) { in.check_function += 1; }},
      {"time", [](IntegrityInputs& in, DeviceIdentity&) { in.unix_seconds += 1; }},
      {"uuid", [](IntegrityInputs&, DeviceIdentity& d) { d.uuid.bytes[15] ^= 1; }},
      {"pci domain", [](IntegrityInputs&, DeviceIdentity& d) { d.pci_domain = 1; }},
      {"pci bus", [](IntegrityInputs&, DeviceIdentity& d) { d.pci_bus += 1; }},
      {"pci device", [](IntegrityInputs&, DeviceIdentity& d) { d.pci_device = 1; }},
  };
  for (const Change& change : changes) {
    INFO(change.what);
    IntegrityInputs in = ObservedInputs();
    DeviceIdentity device = ObservedDevice();
    change.apply(in, device);
    const DeviceIdentity changed[] = {device};
    CHECK(IntegrityAnswer(in, changed) != base);
  }
  const DeviceIdentity two[] = {ObservedDevice(), ObservedDevice()};
  CHECK(IntegrityAnswer(ObservedInputs(), two) != base);
}

TEST_CASE("the integrity message is 48 bytes of inputs and 28 per device, little-endian") {
  IntegrityInputs in;
  in.driver_version = 0x01020304;
  in.unix_seconds = 0x1122334455667788ull;
  DeviceIdentity device;
  device.uuid.bytes[0] = 0x7f;
  device.pci_bus = 0x19;
  const DeviceIdentity devices[] = {device, device};
  const std::vector<std::uint8_t> message = IntegrityMessage(in, devices);
  REQUIRE(message.size() == 48 + 2 * 28);
  CHECK(message[0] == 0x04);
  CHECK(message[3] == 0x01);
  CHECK(message[40] == 0x88);
  CHECK(message[47] == 0x11);
  CHECK(message[48] == 0x7f);
  CHECK(message[48 + 20] == 0x19);
}

}  // namespace
}  // namespace gpupool::dark_api
