#include "tests/remoting/server/adversarial_proc.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace gpupool::testing {

int CountChildren(pid_t parent) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;  // it exited meanwhile
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) ++count;
  }
  return count;
}

bool WaitForNoChildren(pid_t parent, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (CountChildren(parent) != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    // Polling /proc: there is no event to wait on for another process's children.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

ProcUsage Usage(pid_t pid) {
  ProcUsage usage;
  const std::filesystem::path proc = "/proc/" + std::to_string(pid);
  for ([[maybe_unused]] const auto& fd : std::filesystem::directory_iterator(proc / "fd")) ++usage.fds;
  std::ifstream status(proc / "status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) usage.rss_kib = std::atol(line.c_str() + 6);
  return usage;
}

}  // namespace gpupool::testing
