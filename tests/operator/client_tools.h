// Running independent Kubernetes clients (kubectl, python3-kubernetes) against the fake API server,
// for the tests that compare what they see with what the server stores.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "common/status.h"
#include "tests/support/process.h"

namespace gpupool::testing {

// The executable `name` on $PATH, or "".
inline std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Runs a command to completion; its output, or a failure naming the command.
inline Result<std::string> Run(const std::vector<std::string>& argv, int* exit_code = nullptr) {
  auto p = Subprocess::Start(argv, SubprocessOptions{{}, {}, "", /*merge_stderr=*/true});
  if (!p.ok()) return p.status();
  auto code = p->Wait(std::chrono::seconds(60));
  if (!code.ok()) return code.status();
  if (exit_code != nullptr) {
    *exit_code = *code;
  } else if (*code != 0) {
    return Status::Internal(argv[1] + " exited " + std::to_string(*code) + ": " + p->output());
  }
  return p->output();
}

}  // namespace gpupool::testing
