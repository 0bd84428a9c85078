// Bad flags, environment, config files and directories: refused at start, exit code and a message
// naming the field.
#include <fstream>

#include "tests/deviceplugin/plugin_harness.h"

namespace gpupool::testing {
namespace {

struct BadStart {
  std::string name;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string config;  // written to <dir>/config.json and passed with --config when not empty
  int exit_code;
  std::string needle;
};

TEST_CASE("bad flags, environment, config or directory are refused at start naming the field") {
  const std::vector<BadStart> cases = {
      {"zero GPUs", {"--gpus=0"}, {}, "", 2, "--gpus=0"},
      {"GPUs not a number", {"--gpus", "four"}, {}, "", 2, "--gpus=four"},
      {"too many percent units", {"--gpus=2", "--gpu-percent=300"}, {}, "", 2, "--gpu-percent=300"},
      {"memory out of range", {"--gpu-memory=70000"}, {}, "", 2, "--gpu-memory=70000"},
      {"unknown pool health", {"--pool-health=auto"}, {}, "", 2, "--pool-health=auto"},
      {"unknown flag", {"--gpu=2"}, {}, "", 2, "unknown flag --gpu"},
      {"flag without value", {"--gpus"}, {}, "", 2, "--gpus: missing value"},
      {"relative client dir", {"--client-lib-dir=lib"}, {}, "", 2, "--client-lib-dir=lib"},
      {"bad environment",
       {},
       {{"GPUPOOL_DEVICE_PLUGIN_GPU_MEMORY", "lots"}},
       "",
       2,
       "GPUPOOL_DEVICE_PLUGIN_GPU_MEMORY"},
      {"config: wrong version", {}, {}, R"({"version": "v2", "gpus": 2})", 2, "version"},
      {"config: unknown key", {}, {}, R"({"version": "v1", "gpuz": 2})", 2, "gpuz: unknown key"},
      {"config: bad value", {}, {}, R"({"version": "v1", "gpuPercent": 0})", 2, "gpuPercent: 0 is outside"},
      {"config: not JSON", {}, {}, "gpus: 2", 2, "not JSON"},
      {"gpupool health without an API server",
       {"--pool-health=gpupool"},
       {},
       "",
       2,
       "KUBERNETES_SERVICE_HOST"},
      {"missing directory", {"--device-plugin-dir=/nonexistent/device-plugins"}, {}, "", 1, "No such file"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      TempDir tmp;
      std::vector<std::string> argv = {BinDir() + "/gpupool-device-plugin",
                                       "--device-plugin-dir=" + tmp.path()};
      if (!c.config.empty()) {
        std::ofstream(tmp.File("config.json")) << c.config;
        argv.push_back("--config=" + tmp.File("config.json"));
      }
      argv.insert(argv.end(), c.args.begin(), c.args.end());
      auto options = PluginEnv();
      for (const auto& [k, v] : c.env) options.env[k] = v;
      auto p = Subprocess::Start(argv, options);
      REQUIRE(p.ok());
      auto rc = p->Wait(kEventTimeout);
      INFO(p->output());
      REQUIRE(rc.ok());
      CHECK(*rc == c.exit_code);
      CHECK(p->output().find(c.needle) != std::string::npos);
    }
  }
}

TEST_CASE("a directory that is a file is a clear error") {
  TempDir tmp;
  std::ofstream(tmp.File("not-a-dir")) << "x";
  auto p = Subprocess::Start(
      {BinDir() + "/gpupool-device-plugin", "--device-plugin-dir=" + tmp.File("not-a-dir")}, PluginEnv());
  REQUIRE(p.ok());
  auto rc = p->Wait(kEventTimeout);
  REQUIRE(rc.ok());
  CHECK(*rc == 1);
  CHECK(p->output().find("is not a directory") != std::string::npos);
}

TEST_CASE("flags override the environment, which overrides the config file") {
  PluginHarness h;
  REQUIRE(h.kubelet.Start().ok());
  std::ofstream(h.tmp.File("config.json"))
      << R"({"version": "v1", "gpus": 5, "gpuPercent": 120, "gpuMemory": 7})";
  auto options = PluginEnv();
  options.env["GPUPOOL_DEVICE_PLUGIN_GPU_PERCENT"] = "150";
  options.env["GPUPOOL_DEVICE_PLUGIN_GPU_MEMORY"] = "9";
  auto p = Subprocess::Start(h.Args({"--config=" + h.tmp.File("config.json"), "--gpu-memory=11"}), options);
  REQUIRE(p.ok());
  h.plugin.emplace(std::move(p).value());
  h.WaitRegistered(1);
  const std::map<std::string, int> want = {{deviceplugin::kGpuResource, 5},        // file
                                           {deviceplugin::kPercentResource, 150},  // environment over file
                                           {deviceplugin::kMemoryResource, 11}};   // flag over both
  for (const auto& [resource, n] : want) {
    auto list = h.kubelet.WaitForList(
        resource, [](const auto&) { return true; }, kEventTimeout);
    REQUIRE(list.ok());
    CHECK(list->devices_size() == n);
  }
  h.StopPlugin();
}

}  // namespace
}  // namespace gpupool::testing
