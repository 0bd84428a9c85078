// The driver's error log (cuLogs*, CUDA 12.9) through gpupool: a refused call and an asynchronous
// error reported at a synchronisation reach a registered callback and both dumps, iterators advance,
// a buffer too small is refused as documented, and the calls resolve through cuGetProcAddress.
// Natively (scripts/gpu-check.sh) the managed allocation succeeds, the memset past the allocation's
// end is not made (undefined there) and the driver's own log has other lines, so there only the calls'
// contract is checked.
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "check.h"

namespace {

struct Seen {
  std::vector<std::string> messages;
  std::vector<CUlogLevel> levels;
};

void Remember(void* data, CUlogLevel level, char* message, size_t length) {
  auto* seen = static_cast<Seen*>(data);
  seen->messages.emplace_back(message, length);
  seen->levels.push_back(level);
}

bool Has(const std::string& text, const char* what) {
  return text.find(what) != std::string::npos;
}

int Heard(const Seen& seen, const char* what, CUlogLevel level) {
  int n = 0;
  for (size_t i = 0; i < seen.messages.size(); ++i)
    n += Has(seen.messages[i], what) && seen.levels[i] == level;
  return n;
}

}  // namespace

int main() {
  // The log needs no initialisation, as in CUDA.
  CUlogIterator start = 0;
  CU_OK(cuLogsCurrent(&start, 0));
  Seen seen;
  CUlogsCallbackHandle handle = nullptr;
  CU_OK(cuLogsRegisterCallback(&Remember, &seen, &handle));
  CHECK_TRUE(handle != nullptr);
  drv::Start();

  // A call gpupool refuses by design, and an asynchronous error reported at the synchronisation.
  void* pinned = nullptr;
  CU_OK(cuMemHostAlloc(&pinned, 4096, CU_MEMHOSTALLOC_DEVICEMAP));
  CUdeviceptr mapped = 0;
  const CUresult refused = cuMemHostGetDevicePointer(&mapped, pinned, 0);
  const bool gpupool = refused == CUDA_ERROR_NOT_SUPPORTED;
  if (!gpupool) CU_OK(refused);
  CU_OK(cuMemFreeHost(pinned));
  CUdeviceptr d = 0;
  CU_OK(cuMemAlloc(&d, 4096));
  CUstream stream = nullptr;
  CU_OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  // Past the allocation's end: gpupool's server refuses it. Natively that write is undefined, so a
  // native run does not make it and checks only the calls' contract.
  if (gpupool) {
    CU_OK(cuMemsetD8Async(d + 4000, 0, 200, stream));
    const CUresult latched = cuStreamSynchronize(stream);
    CHECK_TRUE(latched != CUDA_SUCCESS);
    CHECK_TRUE(Heard(seen, "cuMemHostGetDevicePointer", CU_LOG_LEVEL_WARNING) == 1);
    CHECK_TRUE(Heard(seen, "cuStreamSynchronize returns", CU_LOG_LEVEL_ERROR) == 1);
    CHECK_TRUE(Heard(seen, drv::Name(latched), CU_LOG_LEVEL_ERROR) == 1);
  }

  // The dump to memory from the iterator taken at the start has both, one line each; it advances.
  CUlogIterator it = start;
  std::vector<char> buffer(25601, 'x');
  size_t size = buffer.size();
  CU_OK(cuLogsDumpToMemory(&it, buffer.data(), &size, 0));
  const std::string dumped(buffer.data(), size);
  CHECK_TRUE(buffer[size] == '\0');
  CHECK_TRUE(dumped.empty() || dumped.back() == '\n');
  if (gpupool) {
    CHECK_TRUE(Has(dumped, "cuMemHostGetDevicePointer") && Has(dumped, "cuStreamSynchronize returns"));
    CHECK_TRUE(dumped.find("cuMemHostGetDevicePointer") < dumped.find("cuStreamSynchronize"));
  }
  size = buffer.size();
  CU_OK(cuLogsDumpToMemory(&it, buffer.data(), &size, 0));
  CHECK_TRUE(size == 0);  // nothing new since

  // A buffer that holds no line: INVALID_VALUE with *size 0. Flags must be 0.
  CUlogIterator again = start;
  char tiny[8];
  size = sizeof tiny;
  if (!dumped.empty()) {
    CU_EXPECT(cuLogsDumpToMemory(&again, tiny, &size, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_TRUE(size == 0);
  }
  size = buffer.size();
  CU_EXPECT(cuLogsDumpToMemory(&again, buffer.data(), &size, 1), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuLogsCurrent(&again, 1), CUDA_ERROR_INVALID_VALUE);

  // The dump to a file, of everything (null iterator).
  char path[] = "/tmp/gpupool-driver-logs-XXXXXX";
  const int fd = mkstemp(path);
  CHECK_TRUE(fd >= 0);
  if (fd >= 0) close(fd);
  CU_OK(cuLogsDumpToFile(nullptr, path, 0));
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  unlink(path);
  CHECK_TRUE(!gpupool || (Has(text.str(), "cuMemHostGetDevicePointer") &&
                          Has(text.str(), "cuStreamSynchronize returns")));
  CU_EXPECT(cuLogsDumpToFile(nullptr, "/nonexistent-dir/log", 0), CUDA_ERROR_INVALID_VALUE);

  // Unregistered: a later error is logged but not delivered; a second unregister is refused.
  CU_OK(cuLogsUnregisterCallback(handle));
  CU_EXPECT(cuLogsUnregisterCallback(handle), CUDA_ERROR_INVALID_VALUE);
  CU_EXPECT(cuLogsRegisterCallback(nullptr, nullptr, nullptr), CUDA_ERROR_INVALID_VALUE);
  const size_t heard = seen.messages.size();
  if (gpupool) {
    CU_OK(cuMemsetD8Async(d + 4000, 0, 200, stream));
    CHECK_TRUE(cuStreamSynchronize(stream) != CUDA_SUCCESS);
  }
  CHECK_TRUE(seen.messages.size() == heard);
  size = buffer.size();
  CU_OK(cuLogsDumpToMemory(&it, buffer.data(), &size, 0));
  CHECK_TRUE(!gpupool || Has(std::string(buffer.data(), size), "cuStreamSynchronize returns"));

  // Resolved through cuGetProcAddress from CUDA 12.9 on.
  void* pfn = nullptr;
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  CU_OK(cuGetProcAddress("cuLogsDumpToMemory", &pfn, 12090, 0, &status));
  CHECK_TRUE(pfn != nullptr && status == CU_GET_PROC_ADDRESS_SUCCESS);
  CU_EXPECT(cuGetProcAddress("cuLogsRegisterCallback", &pfn, 12080, 0, &status), CUDA_ERROR_NOT_FOUND);
  CHECK_TRUE(status == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);

  CU_OK(cuStreamDestroy(stream));
  CU_OK(cuMemFree(d));
  return drv::Verdict("driver_logs");
}
