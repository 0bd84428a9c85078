// Runs the real gpupool-device-plugin binary against a KubeletSimulator in a fresh directory.
#pragma once

#include <signal.h>

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "deviceplugin/devices.h"
#include "tests/deviceplugin/kubelet_sim.h"
#include "tests/support/process.h"

namespace gpupool::testing {

inline constexpr std::chrono::milliseconds kEventTimeout{20'000};
inline const std::vector<std::string> kResources = {
    deviceplugin::kGpuResource, deviceplugin::kPercentResource, deviceplugin::kMemoryResource};

inline SubprocessOptions PluginEnv() {
  SubprocessOptions options;
  options.env["GPUPOOL_LOG_LEVEL"] = "info";
  options.unset_env = {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "GPUPOOL_DEVICE_PLUGIN_CONFIG"};
  return options;
}

struct PluginHarness {
  TempDir tmp;
  std::string dir = tmp.path();
  KubeletSimulator kubelet{dir};
  std::optional<Subprocess> plugin;

  std::vector<std::string> Args(const std::vector<std::string>& extra) const {
    std::vector<std::string> argv = {BinDir() + "/gpupool-device-plugin", "--device-plugin-dir=" + dir};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  // Starts the plugin and waits until it has served all three resources.
  void StartPlugin(const std::vector<std::string>& extra) {
    auto p = Subprocess::Start(Args(extra), PluginEnv());
    REQUIRE(p.ok());
    plugin.emplace(std::move(p).value());
    for (const auto& r : kResources) {
      auto line = plugin->WaitForLine("serving " + r + " ", kEventTimeout);
      INFO(plugin->output());
      REQUIRE(line.ok());
    }
  }
  // Waits until every resource is registered `count` times in all.
  void WaitRegistered(int count) {
    for (const auto& r : kResources) {
      INFO(r << " registration " << count << "; plugin output:\n" << (plugin ? plugin->output() : ""));
      REQUIRE(kubelet.WaitForRegistrations(r, count, kEventTimeout));
    }
  }
  // SIGTERM, exit 0.
  void StopPlugin() {
    plugin->Signal(SIGTERM);
    auto rc = plugin->Wait(kEventTimeout);
    INFO(plugin->output());
    REQUIRE(rc.ok());
    REQUIRE(*rc == 0);
  }
};

}  // namespace gpupool::testing
