// Placeholder until this subcommand lands; it fails loudly rather than pretending to work.
#include <cstdio>

#include "cli/commands.h"

namespace gpupool::cli {

int ServersCommand(const std::vector<std::string>& /*args*/) {
  std::fprintf(stderr, "gpupool servers: not implemented in this build\n");
  return kExitFailure;
}

}  // namespace gpupool::cli
