// The `gpupool` command line: one function per subcommand, each in its own file.
//
// Exit codes (docs/cli.md): 0 success, 1 the operation failed, 2 bad usage (unknown flag, malformed
// size, address or percent), 127 the program to run was not found. `gpupool run` returns the
// program's own exit code.
#pragma once

#include <string>
#include <vector>

namespace gpupool::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Each takes the arguments after the subcommand name.
int RunCommand(const std::vector<std::string>& args);      // cli/run_command.cpp
int ServersCommand(const std::vector<std::string>& args);  // cli/servers_command.cpp
int TopCommand(const std::vector<std::string>& args);      // cli/top_command.cpp

}  // namespace gpupool::cli
