#include "cli/run_flags.h"

#include <filesystem>

#include "cli/server_flags.h"
#include "common/endpoint.h"
#include "common/units.h"

namespace gpupool::cli {
namespace {

Result<int> ParseCount(const std::string& text) {
  if (text.empty() || text.size() > 2 || text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("gpus '" + text + "' is not a number of GPUs (1-16)");
  }
  const int n = std::stoi(text);
  if (n < 1 || n > 16) return Status::InvalidArgument("gpus " + text + " is outside 1..16");
  return n;
}

Result<std::string> ServerAddress(const std::string& text) {
  // A bare host name means the default data port, as everywhere in the CLI.
  const bool bare = !text.empty() && text.find(':') == std::string::npos;
  auto endpoint = ParseEndpoint(bare ? text + ":" + std::to_string(kDefaultDataPort) : text);
  if (!endpoint.ok()) return Status::InvalidArgument("--server: " + endpoint.status().message());
  return endpoint->ToString();
}

}  // namespace

Result<RunFlags> ParseRunFlags(const std::vector<std::string>& args) {
  RunFlags flags;
  std::size_t i = 0;
  while (i < args.size()) {
    const std::string& arg = args[i];
    if (arg == "--") {
      flags.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg == "-h" || arg == "--help") {
      flags.help = true;
      return flags;
    }
    std::string value;
    GPUPOOL_ASSIGN_OR_RETURN(bool server, TakeFlagValue(args, &i, "--server", &value));
    if (server) {
      GPUPOOL_ASSIGN_OR_RETURN(flags.server, ServerAddress(value));
      continue;
    }
    GPUPOOL_ASSIGN_OR_RETURN(bool gpus, TakeFlagValue(args, &i, "--gpus", &value));
    if (gpus) {
      GPUPOOL_ASSIGN_OR_RETURN(flags.gpus, ParseCount(value));
      continue;
    }
    GPUPOOL_ASSIGN_OR_RETURN(bool percent, TakeFlagValue(args, &i, "--percent", &value));
    if (percent) {
      auto p = ParsePercent(value);
      if (!p.ok() && !value.empty() && value.find_first_not_of("0123456789") == std::string::npos) {
        return Status::InvalidArgument("percent " + value + " is outside 1..100");
      }
      if (!p.ok()) return Status::InvalidArgument("percent '" + value + "' is not a number 1..100");
      flags.percent = *p;
      continue;
    }
    GPUPOOL_ASSIGN_OR_RETURN(bool memory, TakeFlagValue(args, &i, "--memory", &value));
    if (memory) {
      auto bytes = ParseSize(value);
      if (!bytes.ok() || *bytes == 0) return Status::InvalidArgument("memory '" + value + "' is not a size");
      flags.memory_bytes = *bytes;
      continue;
    }
    GPUPOOL_ASSIGN_OR_RETURN(bool token, TakeFlagValue(args, &i, "--token-file", &value));
    if (token) {
      flags.token_file = value;
      continue;
    }
    GPUPOOL_ASSIGN_OR_RETURN(bool ca, TakeFlagValue(args, &i, "--tls-ca-file", &value));
    if (ca) {
      // Absolute, so the program finds it whatever directory it changes to.
      flags.tls_ca_file = std::filesystem::absolute(value).string();
      continue;
    }
    GPUPOOL_ASSIGN_OR_RETURN(bool name, TakeFlagValue(args, &i, "--tls-server-name", &value));
    if (name) {
      flags.tls_server_name = value;
      continue;
    }
    if (arg.rfind("-", 0) == 0) return Status::InvalidArgument("unknown flag " + arg);
    // The command may follow without "--" when it does not start with a dash.
    flags.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
    break;
  }
  if (flags.command.empty())
    return Status::InvalidArgument("no command to run (gpupool run [flags] -- CMD ARGS)");
  if (!flags.tls_ca_file.empty() && flags.server.empty()) {
    return Status::InvalidArgument(
        "--tls-ca-file needs --server (the local server is reached by a Unix socket)");
  }
  if (!flags.tls_server_name.empty() && flags.tls_ca_file.empty()) {
    return Status::InvalidArgument("--tls-server-name needs --tls-ca-file");
  }
  return flags;
}

const char* RunHelp() {
  return "usage: gpupool run [--server HOST[:PORT]] [--gpus N] [--percent P] [--memory SIZE] [--token-file "
         "F]\n"
         "                   [--tls-ca-file F [--tls-server-name NAME]] -- CMD ARGS...\n"
         "Runs CMD with gpupool's libcuda.so.1, its CUDA calls executed by a gpupool-server.\n"
         "  --server HOST[:PORT]  the server (port 7470 by default); without it a local server is started:\n"
         "                        the machine's GPU when it has one, else the emulated device\n"
         "  --gpus N              GPUs of the local server's emulated device (default 1)\n"
         "  --percent P           compute share of each GPU, 1-100 (default 100)\n"
         "  --memory SIZE         memory of each GPU (16GiB, 512MiB, ...)\n"
         "  --token-file F        file holding the server's access token\n"
         "  --tls-ca-file F       TLS to --server, whose certificate must be signed by the CA in F\n"
         "  --tls-server-name N   the name the certificate must carry (default: --server's host)\n";
}

}  // namespace gpupool::cli
