// Subprocess: start a program the way a user would (a real binary from build/bin), read what it
// prints, wait for it or kill it. Tests wait on what the child prints ("listening on ..."), never
// on sleeps.
//
// Thread-safety: one thread per Subprocess object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace gpupool::testing {

struct SubprocessOptions {
  // Added to (or replacing entries of) the parent's environment.
  std::map<std::string, std::string> env;
  // Removed from the environment before `env` is applied.
  std::vector<std::string> unset_env;
  std::string working_dir;
  // stdout and stderr are read from one pipe, in the order the child wrote them.
  bool merge_stderr = true;
};

class Subprocess {
 public:
  static Result<Subprocess> Start(const std::vector<std::string>& argv,
                                  const SubprocessOptions& options = {});

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // Kills (SIGKILL) and reaps the child if it is still running.
  ~Subprocess();

  pid_t pid() const { return pid_; }

  // Reads output until a line containing `needle` arrives; returns that line. Fails when the child
  // exits or `timeout` passes first (the error carries the output so far).
  Result<std::string> WaitForLine(const std::string& needle, std::chrono::milliseconds timeout);
  // Waits for the child to exit, collecting its output. Returns the exit code, or 128+signal.
  Result<int> Wait(std::chrono::milliseconds timeout);
  void Signal(int sig);
  // Everything the child printed so far (what Wait/WaitForLine have read).
  const std::string& output() const { return output_; }

 private:
  Subprocess() = default;
  // Reads what is available within `deadline`; false on EOF.
  bool ReadSome(std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool eof_ = false;
  std::optional<int> exit_code_;
  std::string output_;
  std::size_t scanned_ = 0;  // output_ before this offset has been matched against needles
};

// Absolute paths of the build tree and source tree (compile definitions of the test library).
std::string BinDir();
std::string LibDir();
std::string SourceDir();

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Creates a Unix socket file at `path` that nobody listens on (what a server that died leaves behind,
// or a socket a test only needs to exist). False when it cannot.
bool MakeSocketFile(const std::string& path);

}  // namespace gpupool::testing
