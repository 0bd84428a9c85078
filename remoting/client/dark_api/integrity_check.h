// The answer of INTEGRITY_CHECK slot 1. The CUDA runtime computes the same value itself and, when
// the driver's differs, fails every call with cudaErrorSoftwareValidityNotEstablished (103).
//
// For a requested version whose last decimal digit is 0 or 1 the answer is a constant; otherwise it
// is HMAC-MD2 under a fixed key of IntegrityMessage(). Established from ZLUDA's published
// description, checked against libcudart_static 13.0 (docs/dark-api.md): the runtime asks for
// 13000, 13001 and 13002 at start-up and accepts these answers; one flipped bit is rejected.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "remoting/client/dark_api/dark_api_host.h"

namespace gpupool::dark_api {

struct IntegrityInputs {
  std::uint32_t driver_version = 0;     // what cuDriverGetVersion answers
  std::uint32_t requested_version = 0;  // the slot's first argument
  std::uint32_t process_id = 0;         // getpid()
  std::uint32_t thread_id = 0;          // pthread_self(), low 32 bits
  std::uint64_t cudart_table = 0;       // address of the CUDART_INTERFACE slots
  std::uint64_t integrity_table = 0;    // address of the INTEGRITY_CHECK slots
  std::uint64_t check_function = 0;     // address of the function in INTEGRITY_CHECK slot 1
  std::uint64_t unix_seconds = 0;       // the slot's second argument
};

// The bytes hashed: the inputs above in that order (little-endian, 48 bytes), then for each device
// in ordinal order its UUID, PCI domain, bus and device (28 bytes each).
std::vector<std::uint8_t> IntegrityMessage(const IntegrityInputs& inputs,
                                           std::span<const DeviceIdentity> devices);

// The two 64-bit words the slot writes.
std::array<std::uint64_t, 2> IntegrityAnswer(const IntegrityInputs& inputs,
                                             std::span<const DeviceIdentity> devices);

}  // namespace gpupool::dark_api
