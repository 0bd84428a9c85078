// gpupool-device-plugin: advertises gpupool.io/gpu, gpu-percent and gpu-memory to the kubelet and
// injects the client library into containers. See docs/deviceplugin.md.
//
// Exit codes: 0 after SIGTERM/SIGINT, 2 for a bad flag/config, 1 for a bad directory or a broken host.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/log.h"
#include "deviceplugin/config.h"
#include "deviceplugin/supervisor.h"

extern char** environ;

int main(int argc, char** argv) {
  using namespace gpupool::deviceplugin;
  gpupool::SetLogComponent("gpupool-device-plugin");
  // Before any thread exists (gRPC, cpprestsdk), so every thread inherits the mask.
  BlockSignals();
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    if (auto eq = entry.find('='); eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  auto config = LoadConfig(std::vector<std::string>(argv + 1, argv + argc), env);
  if (!config.ok() && config.status().code() == gpupool::Code::kNotFound) {
    std::cout << Usage();
    return 0;
  }
  if (!config.ok()) {
    std::cerr << "gpupool-device-plugin: " << config.status().message() << "\n" << Usage();
    return 2;
  }
  if (auto st = CheckDirectory(config->device_plugin_dir); !st.ok()) {
    std::cerr << "gpupool-device-plugin: " << st.message() << "\n";
    return 1;
  }
  Supervisor supervisor(*config, MakePoolHealth(*config));
  return supervisor.Run();
}
