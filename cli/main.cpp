// gpupool: the user's command line. Subcommands live in their own files (cli/commands.h).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/log.h"

namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*main)(const std::vector<std::string>&);
};

constexpr Subcommand kSubcommands[] = {
    {"run", "run a program on remote GPUs", gpupool::cli::RunCommand},
    {"servers", "list GPU servers, their GPUs, free share and health", gpupool::cli::ServersCommand},
    {"top", "show live sessions: memory, compute share, throughput", gpupool::cli::TopCommand},
};

void Usage(std::FILE* out) {
  std::fprintf(out, "usage: gpupool <command> [flags]\n\ncommands:\n");
  for (const Subcommand& s : kSubcommands) std::fprintf(out, "  %-9s %s\n", s.name, s.summary);
  std::fprintf(out, "\n'gpupool <command> --help' shows a command's flags.\n");
}

}  // namespace

int main(int argc, char** argv) {
  gpupool::SetLogComponent("gpupool");
  if (argc < 2) {
    Usage(stderr);
    return gpupool::cli::kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    Usage(stdout);
    return gpupool::cli::kExitOk;
  }
  if (name == "--version") {
    std::printf("gpupool %s\n", GPUPOOL_VERSION);
    return gpupool::cli::kExitOk;
  }
  for (const Subcommand& s : kSubcommands) {
    if (name == s.name) return s.main(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "gpupool: unknown command \"%s\"\n\n", name.c_str());
  Usage(stderr);
  return gpupool::cli::kExitUsage;
}
