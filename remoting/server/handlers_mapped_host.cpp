// Handlers: mapped host memory (mapped_arena.h). A registered range enters the session's table, so
// copies and memsets may name it as device memory, as the program's kernels do.
#include "remoting/server/dispatch.h"

namespace gpupool::server {

GPUPOOL_HANDLER(MemHostRegisterMapped) {
  const auto& [address, bytes] = in;
  if (s.mapped_arena == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
  const CUresult r = s.mapped_arena->Register(s.api, address, bytes);
  if (r == CUDA_SUCCESS) s.memory.Add(address, bytes, AllocationTable::Kind::kHostMapped);
  return r;
}

GPUPOOL_HANDLER(MemHostUnregisterMapped) {
  const std::uint64_t address = std::get<0>(in);
  if (s.mapped_arena == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t bytes = 0;
  const CUresult r = s.mapped_arena->Unregister(s.api, address, &bytes);
  if (bytes != 0) (void)s.memory.Remove(address, AllocationTable::Kind::kHostMapped);
  return r;
}

}  // namespace gpupool::server
