// Placeholder until this subcommand lands; it fails loudly rather than pretending to work.
#include <cstdio>

#include "cli/commands.h"

namespace gpupool::cli {

int TopCommand(const std::vector<std::string>& /*args*/) {
  std::fprintf(stderr, "gpupool top: not implemented in this build\n");
  return kExitFailure;
}

}  // namespace gpupool::cli
