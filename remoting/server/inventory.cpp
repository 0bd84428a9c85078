#include "remoting/server/inventory.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "remoting/server/gpu_identity.h"
#include "remoting/server/worker.h"

namespace gpupool::server {

int RunInventory(const ServerOptions& options) {
  auto backend = OpenBackend(options.device, options.cuda_library, options.emulated);
  if (!backend.ok()) {
    std::printf("error %s\n", backend.status().ToString().c_str());  // the broker passes it on
    std::fprintf(stderr, "gpupool-server inventory: %s\n", backend.status().ToString().c_str());
    return 1;
  }
  const DriverApi& api = (*backend)->api();
  int count = 0, version = 0;
  if (api.cuInit(0) != CUDA_SUCCESS || api.cuDeviceGetCount == nullptr ||
      api.cuDeviceGetCount(&count) != CUDA_SUCCESS) {
    std::printf("error cuInit or cuDeviceGetCount failed\n");
    return 1;
  }
  if (api.cuDriverGetVersion != nullptr) (void)api.cuDriverGetVersion(&version);
  std::printf("driver %d\n", (*backend)->kind() == "emulated" ? 0 : version);
  for (int i = 0; i < count; ++i) {
    char name[256] = {};
    CUuuid uuid{};
    std::size_t memory = 0;
    int major = 0, minor = 0, sms = 0;
    // A GPU whose properties cannot be read (lost, fallen off the bus, driver in a bad state) is
    // reported unhealthy, with the first query that failed.
    const char* failed = nullptr;
    auto check = [&failed](CUresult r, const char* what) {
      if (r != CUDA_SUCCESS && failed == nullptr) failed = what;
    };
    check(api.cuDeviceGetName(name, sizeof name - 1, i), "cuDeviceGetName");
    check(api.cuDeviceGetUuid_v2(&uuid, i), "cuDeviceGetUuid");
    check(api.cuDeviceTotalMem_v2(&memory, i), "cuDeviceTotalMem");
    check(api.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, i),
          "cuDeviceGetAttribute");
    check(api.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, i),
          "cuDeviceGetAttribute");
    check(api.cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, i),
          "cuDeviceGetAttribute");
    std::printf("gpu %d %s %zu %d %d %d %s\n", i, FormatGpuUuid(uuid).c_str(), memory, major, minor, sms,
                name);
    if (failed != nullptr) std::printf("unhealthy %d %s failed\n", i, failed);
  }
  std::fflush(stdout);
  return 0;
}

Result<InventoryInfo> QueryInventory(const ServerOptions& options, Reaper* reaper) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::Internal("pipe for the inventory child");
  auto pid = SpawnSelf(InventoryArgs(options), {}, fds[1]);
  ::close(fds[1]);
  if (!pid.ok()) {
    ::close(fds[0]);
    return pid.status();
  }
  reaper->ChildStarted();
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char buf[4096];
  while (true) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count();
    pollfd p{fds[0], POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) == 0) {
      ::kill(*pid, SIGKILL);
      ::close(fds[0]);
      return Status::DeadlineExceeded("inventory child did not answer within 60 s");
    }
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  return ParseInventory(out);
}

}  // namespace gpupool::server
