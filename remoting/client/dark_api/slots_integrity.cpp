// INTEGRITY_CHECK: proves to the runtime that it talks to a driver that knows its secret
// (integrity_check.h).
#include <pthread.h>
#include <unistd.h>

#include <type_traits>
#include <vector>

#include "common/log.h"
#include "remoting/client/dark_api/export_tables.h"
#include "remoting/client/dark_api/integrity_check.h"
#include "remoting/client/dark_api/slot_support.h"
#include "remoting/client/dark_api/slots.h"

namespace gpupool::dark_api::slots {
namespace {

// pthread_self() as the runtime hashes it: the low 32 bits of the thread handle (an integer in
// glibc, a pointer in some other C libraries).
std::uint32_t ThreadWord() {
  const pthread_t self = pthread_self();
  if constexpr (std::is_pointer_v<pthread_t>) {
    return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(self));
  } else {
    return static_cast<std::uint32_t>(self);
  }
}

}  // namespace

CUresult IntegrityCheck_integrity_check(unsigned version, std::uint64_t unix_seconds, std::uint64_t* result) {
  GPUPOOL_DARK_API_OR_RETURN(api);
  if (result == nullptr) return CUDA_ERROR_INVALID_VALUE;
  IntegrityInputs inputs;
  int driver_version = 0;
  CUresult status = api.host().DriverVersion(&driver_version);
  if (status != CUDA_SUCCESS) return status;
  int count = 0;
  status = api.host().DeviceCount(&count);
  if (status != CUDA_SUCCESS) return status;
  std::vector<DeviceIdentity> devices(static_cast<std::size_t>(count > 0 ? count : 0));
  for (int i = 0; i < count; ++i) {
    status = api.host().Identity(i, &devices[static_cast<std::size_t>(i)]);
    if (status != CUDA_SUCCESS) return status;
  }
  inputs.driver_version = static_cast<std::uint32_t>(driver_version);
  inputs.requested_version = version;
  inputs.process_id = static_cast<std::uint32_t>(getpid());
  inputs.thread_id = ThreadWord();
  inputs.cudart_table = reinterpret_cast<std::uintptr_t>(TableSlots(TableId::kCudartInterface));
  const void* const* integrity_table = TableSlots(TableId::kIntegrityCheck);
  inputs.integrity_table = reinterpret_cast<std::uintptr_t>(integrity_table);
  inputs.check_function = reinterpret_cast<std::uintptr_t>(integrity_table[1]);
  inputs.unix_seconds = unix_seconds;
  const std::array<std::uint64_t, 2> answer = IntegrityAnswer(inputs, devices);
  result[0] = answer[0];
  result[1] = answer[1];
  GPUPOOL_LOG(kTrace) << "dark_api: INTEGRITY_CHECK.integrity_check(version " << version << ", " << count
                      << " devices)";
  return CUDA_SUCCESS;
}

}  // namespace gpupool::dark_api::slots
