#include "tests/cli/cli_runner.h"

#include <catch2/catch.hpp>

namespace gpupool::testing {

Subprocess StartGpupool(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                        bool merge_stderr) {
  std::vector<std::string> argv = {BinDir() + "/gpupool"};
  argv.insert(argv.end(), args.begin(), args.end());
  SubprocessOptions options;
  options.env = env;
  for (const char* name : {"GPUPOOL_SERVER", "GPUPOOL_SERVERS"}) {
    if (env.count(name) == 0) options.unset_env.push_back(name);
  }
  options.merge_stderr = merge_stderr;
  auto process = Subprocess::Start(argv, options);
  REQUIRE(process.ok());
  return std::move(process).value();
}

CliResult RunGpupool(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                     bool merge_stderr) {
  Subprocess process = StartGpupool(args, env, merge_stderr);
  auto code = process.Wait(kCliTimeout);
  INFO(process.output());
  REQUIRE(code.ok());
  return {*code, process.output()};
}

}  // namespace gpupool::testing
