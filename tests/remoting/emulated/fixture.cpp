#include "tests/remoting/emulated/fixture.h"

#include <fstream>
#include <memory>
#include <sstream>

#include "remoting/server/backend.h"
#include "tests/support/process.h"

namespace gpupool::server::emulated_test {
namespace {

struct Opened {
  testing::TempDir dir;
  std::string log_path = dir.path() + "/launches.jsonl";
  std::unique_ptr<Backend> backend;
  std::size_t log_read = 0;
};

Opened& Instance() {
  static Opened* opened = [] {
    auto* o = new Opened();
    EmulatedConfig config;
    config.gpus = 2;
    config.uuid_seed = "emulated-test";
    config.record_launches_path = o->log_path;
    auto backend = OpenEmulatedBackend(config);
    if (!backend.ok()) FAIL("OpenEmulatedBackend: " << backend.status().ToString());
    o->backend = std::move(backend).value();
    return o;
  }();
  return *opened;
}

}  // namespace

const DriverApi& Api() {
  const DriverApi& api = Instance().backend->api();
  // Every test starts initialised, with device 0's primary context current on this thread.
  thread_local bool ready = false;
  if (!ready) {
    REQUIRE(api.cuInit(0) == CUDA_SUCCESS);
    CUcontext ctx = nullptr;
    REQUIRE(api.cuDevicePrimaryCtxRetain(&ctx, 0) == CUDA_SUCCESS);
    REQUIRE(api.cuCtxSetCurrent(ctx) == CUDA_SUCCESS);
    ready = true;
  }
  return api;
}

const std::string& LaunchLogPath() {
  return Instance().log_path;
}

std::string NewLaunchLogLines() {
  std::ifstream in(Instance().log_path);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  const std::string fresh = text.substr(std::min(Instance().log_read, text.size()));
  Instance().log_read = text.size();
  return fresh;
}

}  // namespace gpupool::server::emulated_test
